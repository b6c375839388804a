"""Measurement Protocol reader: Google's documented hits as fixtures, errors, ignored data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import REPO

from ga_ee_bridge import EcommerceError, to_exponea_events
from ga_ee_bridge.readers.mp import (
    BATCH_LIMIT,
    is_mp_hit,
    parse_query,
    read_mp_batch,
    read_mp_hit,
    read_mp_lines,
)

FIXTURES = sorted((REPO / "fixtures" / "mp").glob("*.json"))


def _events(hit_line: str, mapping: str = "sdk") -> list[dict[str, object]]:
    hit = read_mp_hit(hit_line)
    return [
        {"event_type": e.event_type, "properties": dict(e.properties)}
        for e in to_exponea_events(hit.ecommerce, mapping=mapping)
    ]


def test_fixtures_exist() -> None:
    assert len(FIXTURES) >= 8


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text())
    assert is_mp_hit(fixture["input"])
    hit = read_mp_hit(fixture["input"])
    for key, value in fixture["hit"].items():
        assert getattr(hit, key) == value, key
    assert _events(fixture["input"]) == fixture["expected"]["sdk"]


def test_errors_name_the_parameter() -> None:
    with pytest.raises(EcommerceError) as caught:
        read_mp_hit("v=1&t=event&pa=purchase&pr1id=P1&pr2id=P2&pr2pr=x&tr=abc&cos=1.5&promoa=zz")
    text = str(caught.value)
    assert "ti: missing: a purchase needs a transaction id" in text
    assert "promoa: unknown promotion action 'zz'" in text
    assert set(caught.value.paths) == {"ti", "promoa"}  # unreadable values are left out
    with pytest.raises(EcommerceError) as strict:
        read_mp_hit("v=1&t=event&pa=purchase&pr1id=P1&pr2id=P2&pr2pr=x&tr=abc&cos=1.5&promoa=zz",
                    strict=True)
    assert "pr2pr: not a plain number" in str(strict.value)
    assert set(strict.value.paths) == {"pr2pr", "tr", "cos", "ti", "promoa"}


def test_unreadable_values_are_left_out_with_a_warning_naming_the_parameter() -> None:
    hit = read_mp_hit("v=1&t=event&pa=purchase&ti=T1&pr1id=P1&pr2id=P2&pr2pr=x&tr=abc&cos=1.5"
                      "&pr1cm1=lots")
    assert [(w.path, w.value) for w in hit.ecommerce.warnings] == [
        ("tr", "abc"), ("cos", "1.5"), ("pr1cm1", "lots"), ("pr2pr", "x")
    ]
    assert "not a number: 'x'" in hit.ecommerce.warnings[3].message
    purchase = hit.ecommerce.sections["purchase"]
    assert (purchase.action_field.revenue, purchase.action_field.step) == (None, None)
    assert [(p.id, p.price, dict(p.custom)) for p in purchase.items] == [
        ("P1", None, {}), ("P2", None, {})
    ]


def test_product_needs_id_or_name() -> None:
    with pytest.raises(EcommerceError, match=r"pr1: needs an id \(pr1id\) or a name \(pr1nm\)"):
        read_mp_hit("pa=detail&pr1br=Google")


def test_unknown_product_action() -> None:
    with pytest.raises(EcommerceError, match="pa: unknown product action 'buy'"):
        read_mp_hit("pa=buy&pr1id=P1")


def test_strict_rejects_repairs_lenient_accepts_them() -> None:
    line = "pa=detail&pr1id=P1&pr1pr=%2429.20&pr250id=P2"
    hit = read_mp_hit(line)
    products = hit.ecommerce.sections["detail"].items
    assert [p.price for p in products] == [29.2, None]
    with pytest.raises(EcommerceError) as caught:
        read_mp_hit(line, strict=True)
    assert set(caught.value.paths) == {"pr1pr", "pr250id"}


def test_strict_reads_integer_text() -> None:
    hit = read_mp_hit("pa=add&pr1id=P1&pr1qt=3&pr1ps=2&qt=560", strict=True)
    product = hit.ecommerce.sections["add"].items[0]
    assert (product.quantity, product.position, hit.queue_time) == (3, 2, 560)


def test_products_without_action_are_ignored_and_counted() -> None:
    hit = read_mp_hit("t=pageview&pr1id=P1&pr1nm=A&pr3id=P3&ti=T1")
    assert hit.ecommerce.sections == {}
    assert hit.ignored_products == 2
    assert set(hit.ignored) == {"pr1id", "pr1nm", "pr3id", "ti"}


def test_unknown_ecommerce_parameters_are_dropped_not_lost() -> None:
    hit = read_mp_hit("pa=detail&pr1id=P1&pr1zz=1&il1pi1id=I&il1pi1yy=2&promo1id=X&promo1qq=3")
    assert set(hit.ecommerce.dropped) == {"pr1zz", "il1pi1yy", "promo1qq"}
    events = to_exponea_events(hit.ecommerce)
    assert set(events.dropped) == {"pr1zz", "il1pi1yy", "promo1qq"}


def test_products_ordered_by_index_not_by_parameter_order() -> None:
    hit = read_mp_hit("pa=add&pr10id=C&pr2id=B&pr1id=A")
    assert [p.id for p in hit.ecommerce.sections["add"].items] == ["A", "B", "C"]


def test_sdk_exact_gets_values_as_sent() -> None:
    hit = read_mp_hit("pa=detail&pr1id=P1&pr1pr=29.20&cu=EUR")
    [event] = to_exponea_events(hit.ecommerce, mapping="sdk-exact")
    assert event.properties["price"] == "29.20"
    assert event.properties["currency_code"] == "EUR"


def test_query_forms() -> None:
    assert parse_query("https://www.google-analytics.com/collect?v=1&t=event&ea=a+b") == {
        "v": "1", "t": "event", "ea": "a b",
    }
    assert parse_query("GET /collect?v=1&cid=5 HTTP/1.1")["cid"] == "5"
    assert read_mp_hit(b"v=1&cid=7&t=event").client_id == "7"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("v=1&tid=UA-1-1&cid=5&t=pageview", True),
        ("pa=purchase&ti=T1", True),
        ('{"event": "purchase"}', False),
        ("[1, 2]", False),
        ("just text", False),
        ("a=1&b=2", False),
        (42, False),
    ],
)
def test_is_mp_hit(line: object, expected: bool) -> None:
    assert is_mp_hit(line) is expected


def test_batch_reports_every_bad_line() -> None:
    body = "v=1&t=event&pa=detail&pr1id=P1\n\nv=1&t=event&pa=detail&pr1pr=x\nv=1&pa=nope"
    with pytest.raises(EcommerceError) as caught:
        read_mp_batch(body)
    assert set(caught.value.paths) == {"[2].pr1", "[3].pa"}
    with pytest.raises(EcommerceError) as strict:
        read_mp_batch(body, strict=True)
    assert set(strict.value.paths) == {"[2].pr1pr", "[2].pr1", "[3].pa"}


def test_batch_limit_only_in_strict_mode() -> None:
    lines = ["v=1&t=event&pa=detail&pr1id=P1"] * (BATCH_LIMIT + 1)
    assert len(read_mp_batch(lines)) == BATCH_LIMIT + 1
    with pytest.raises(EcommerceError, match="at most 20 hits"):
        read_mp_batch(lines, strict=True)


def test_lines_prefix_errors_with_the_line_index() -> None:
    hits = read_mp_lines(["v=1&pa=detail&pr1id=P1", "", "v=1&pa=detail&pr1pr=y&pr1br=P"])
    assert next(hits).ecommerce.sections["detail"].items[0].id == "P1"
    with pytest.raises(EcommerceError, match=r"^\[2\]\.pr1: needs an id"):
        next(hits)


def test_customer_ids() -> None:
    assert read_mp_hit("cid=1.2&uid=u").customer_ids == {"uid": "u", "cid": "1.2"}
    assert read_mp_hit("t=event").customer_ids == {}
