"""Detection and the per-push entry point: one form per push, UA first, UA path unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from ga_ee_bridge import EcommerceError, parse_ecommerce, to_exponea_events
from ga_ee_bridge.readers import detect_source, read_push

UA = {"purchase": {"actionField": {"id": "T1", "revenue": "10"}, "products": [{"id": "A"}]}}
GA4_ITEMS = {"transaction_id": "T1", "value": 8, "items": [{"item_id": "A"}]}


@pytest.mark.parametrize(
    ("push", "form"),
    [
        ({"event": "purchase", "ecommerce": UA}, "ua"),
        ({"event": "purchase", "ecommerce": {**UA, **GA4_ITEMS}}, "ua"),
        ({"event": "purchase", "ecommerce": GA4_ITEMS}, "ga4"),
        ({"event": "view_cart", "ecommerce": {"value": 1}}, "ga4"),
        ({"event": "custom", "ecommerce": {"items": []}}, "ga4"),
        ({"event": "custom", "ecommerce": {"currencyCode": "EUR"}}, "ua"),
        ({"ecommerce": "nonsense"}, "ua"),
        ({"ecommerce": None}, None),
        ({"event": "gtm.js", "gtm.start": 1700000000000}, None),
        ({"0": "event", "1": "purchase", "2": {}}, "gtag"),
        ({"0": "config", "1": "G-XXXX"}, None),
        (["event", "purchase", {}], "gtag"),
        ("text", None),
    ],
)
def test_detect_source(push: Any, form: str | None) -> None:
    assert detect_source(push) == form


def test_ua_and_ga4_in_one_push_convert_once_as_ua() -> None:
    push = {"event": "purchase", "ecommerce": {**UA, **GA4_ITEMS}}
    events = to_exponea_events(push)
    assert [e.event_type for e in events] == ["product_purchase", "transaction"]
    assert events[-1].properties["revenue"] == 10.0
    assert "value" not in events[-1].properties
    assert events.dropped == ("transaction_id", "value", "items")


def test_forcing_a_source() -> None:
    push = {"event": "purchase", "ecommerce": {**UA, **GA4_ITEMS}}
    forced = read_push(push, source="ga4")
    assert forced.source == "ga4"
    assert forced.sections["purchase"].action_field.value == 8.0
    assert set(forced.dropped) == {"purchase"}
    with pytest.raises(ValueError, match="unknown source 'bq'"):
        read_push(push, source="bq")


def test_no_ecommerce_reads_empty() -> None:
    for push in ({"event": "gtm.js"}, {"ecommerce": None}, {"0": "js", "1": "2024"}):
        parsed = read_push(push)
        assert not parsed.sections and not parsed.dropped


def test_bare_ecommerce_object_stays_ua() -> None:
    parsed = parse_ecommerce({**UA, **GA4_ITEMS})
    assert parsed.source == "ua"
    assert parsed.dropped == ("transaction_id", "value", "items")


def test_ga4_push_through_parse_ecommerce_and_forced_ga4_errors() -> None:
    parsed = parse_ecommerce({"event": "purchase", "ecommerce": GA4_ITEMS})
    assert parsed.source == "ga4"
    with pytest.raises(EcommerceError) as info:
        read_push({"event": "purchase", "ecommerce": [1]}, source="ga4")
    assert info.value.paths == ["ecommerce"]
