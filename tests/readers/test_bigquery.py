"""BigQuery export reader: sample-shaped session rows as fixtures, micros, ids, times, errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from support import REPO

from ga_ee_bridge import EcommerceError, to_exponea_events
from ga_ee_bridge.readers.bigquery import is_bigquery_row, read_bigquery_row

FIXTURES = sorted((REPO / "fixtures" / "bigquery").glob("*.json"))
SESSION = FIXTURES[0].parent / "session-funnel.json"


def _row() -> dict[str, Any]:
    row: dict[str, Any] = json.loads(SESSION.read_text())["input"]
    return row


def test_fixtures_exist() -> None:
    assert len(FIXTURES) >= 3


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text())
    assert is_bigquery_row(fixture["input"])
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in fixture["options"].items()}
    events = []
    for record in read_bigquery_row(fixture["input"], **options):
        for event in to_exponea_events(record.ecommerce):
            events.append({
                "event_type": event.event_type,
                "timestamp": record.timestamp,
                "customer_id": record.customer_id,
                "properties": dict(event.properties),
            })
    assert events == fixture["expected"]["sdk"]


def test_fixture_rows_survive_a_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ga_sessions_20170801.json"
    rows = [json.loads(p.read_text())["input"] for p in FIXTURES]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    read = [
        list(read_bigquery_row(json.loads(line))) for line in path.read_text().splitlines()
    ]
    assert [len(records) for records in read] == [2, 1, 6]  # sorted: checkout.., local.., session..


def test_customer_id_choice() -> None:
    row = _row()
    row["userId"] = "u-1"
    row["clientId"] = "11.22"
    first = next(read_bigquery_row(row))
    assert (first.customer_id, first.customer_id_field) == ("7194065619159478122", "fullVisitorId")
    assert dict(first.ids) == {
        "userId": "u-1", "clientId": "11.22", "fullVisitorId": row["fullVisitorId"]
    }
    assert next(read_bigquery_row(row, customer_id="clientId")).customer_id == "11.22"
    row["userId"] = None
    fallback = next(read_bigquery_row(row, customer_id=("userId", "clientId")))
    assert (fallback.customer_id, fallback.customer_id_field) == ("11.22", "clientId")
    del row["clientId"]
    missing = next(read_bigquery_row(row, customer_id="clientId"))
    assert (missing.customer_id, missing.customer_id_field) == (None, None)
    with pytest.raises(ValueError, match="customer_id must name"):
        read_bigquery_row(row, customer_id="visitId")


def test_timestamp_is_visit_start_plus_hit_time() -> None:
    records = list(read_bigquery_row(_row()))
    assert [r.timestamp for r in records] == [
        1501583974.0, 1501583989.0, 1501584006.0, 1501584021.0, 1501584034.0, 1501584064.0
    ]
    assert [r.hit_number for r in records] == [1, 2, 3, 4, 5, 6]
    row = _row()
    del row["visitStartTime"]
    assert {r.timestamp for r in read_bigquery_row(row)} == {None}


def test_view_currency_columns() -> None:
    fixture = json.loads((SESSION.parent / "local-currency.json").read_text())
    record = next(read_bigquery_row(fixture["input"], money="view"))
    purchase = record.ecommerce.sections["purchase"]
    assert record.ecommerce.currency_code is None
    assert purchase.items[0].price == 2.2
    assert purchase.action_field.revenue == 23.1
    with pytest.raises(ValueError, match="money"):
        read_bigquery_row(fixture["input"], money="usd")  # type: ignore[arg-type]


def test_micros_are_exact() -> None:
    row = _row()
    row["hits"][3]["product"][0]["productPrice"] = 123456789
    row["hits"][3]["product"][0]["localProductPrice"] = "123456789"
    record = list(read_bigquery_row(row))[3]
    assert record.ecommerce.sections["add"].items[0].price == 123.456789


def test_errors_name_the_rows_path() -> None:
    row = _row()
    row["hits"][3]["product"][0]["productPrice"] = "x"
    row["hits"][3]["product"][0]["localProductPrice"] = None
    row["hits"][5]["product"][0]["customDimensions"][0]["index"] = "four"
    row["hits"][1]["eCommerceAction"]["action_type"] = "9"
    del row["hits"][5]["transaction"]["transactionId"]
    with pytest.raises(EcommerceError) as caught:
        list(read_bigquery_row(row, strict=True))
    errors = dict(caught.value.errors)
    assert errors["hits[3].product[0].productPrice"].endswith("'x'")
    assert "hits[5].product[0].customDimensions[0].index" in errors
    assert errors["hits[1].eCommerceAction.action_type"].startswith("unknown action type '9'")
    assert "needs a transaction id" in errors["hits[5].transaction.transactionId"]


def test_strict_rejects_fractional_micros_lenient_reads_whole_floats() -> None:
    row = _row()
    row["hits"][3]["product"][0]["localProductPrice"] = 2400000.0
    assert list(read_bigquery_row(row))[3].ecommerce.sections["add"].items[0].price == 2.4
    with pytest.raises(EcommerceError, match="integer amount of micros"):
        list(read_bigquery_row(row, strict=True))
    row["hits"][3]["product"][0]["localProductPrice"] = 2.5
    with pytest.raises(EcommerceError, match=r"localProductPrice: not an integer amount of mic"):
        list(read_bigquery_row(row, strict=True))
    record = list(read_bigquery_row(row))[3]  # lenient: left out, the view price is read
    assert [w.path for w in record.ecommerce.warnings] == ["hits[3].product[0].localProductPrice"]
    assert record.ecommerce.sections["add"].items[0].price is not None


def test_products_without_action_are_reported() -> None:
    fixture = json.loads((SESSION.parent / "checkout-option-and-refund.json").read_text())
    row = fixture["input"]
    records = list(read_bigquery_row(row))
    assert [r.hit_index for r in records] == [1, 2]
    row2 = copy.deepcopy(row)
    row2["hits"][0]["promotion"] = [{"promoId": "P"}]
    first = next(read_bigquery_row(row2))
    assert first.ignored == ("hits[0].product[0]",)
    assert "promoView" in first.ecommerce.sections


def test_unknown_product_columns_are_dropped_not_lost() -> None:
    row = _row()
    row["hits"][3]["product"][0]["productStockLevel"] = 4
    record = list(read_bigquery_row(row))[3]
    assert record.ecommerce.dropped == ("hits[3].product[0].productStockLevel",)
    assert to_exponea_events(record.ecommerce).dropped == record.ecommerce.dropped


def test_promo_click() -> None:
    row = _row()
    row["hits"][0]["promotionActionInfo"] = {"promoIsClick": True}
    sections = next(read_bigquery_row(row)).ecommerce.sections
    assert "promoClick" in sections and "promoView" not in sections


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"fullVisitorId": "1", "hits": []}, True),
        ({"visitStartTime": 1, "hits": [{}]}, True),
        ({"hits": []}, False),
        ({"event": "purchase", "ecommerce": {}}, False),
        ([{"hits": []}], False),
    ],
)
def test_is_bigquery_row(obj: object, expected: bool) -> None:
    assert is_bigquery_row(obj) is expected


def test_not_a_row() -> None:
    with pytest.raises(EcommerceError, match="not a session row"):
        read_bigquery_row([1, 2])  # type: ignore[arg-type]
