"""gtag.js reader: arguments objects, the UA and GA4 dialects, errors and non-ecommerce events."""

from __future__ import annotations

from typing import Any

import pytest

from ga_ee_bridge import EcommerceError, to_exponea_events
from ga_ee_bridge.readers import gtag


def _event(name: str, params: Any) -> dict[str, Any]:
    return {"0": "event", "1": name, "2": params}


@pytest.mark.parametrize(
    ("name", "params", "dialect"),
    [
        ("checkout_progress", {}, "ua"),
        ("select_content", {}, "ua"),
        ("select_item", {}, "ga4"),
        ("view_cart", {}, "ga4"),
        ("purchase", {"items": [{"id": "A"}]}, "ua"),
        ("purchase", {"items": [{"item_id": "A"}]}, "ga4"),
        ("purchase", {"items": {"name": "A"}}, "ua"),
        ("view_promotion", {"promotions": []}, "ua"),
        ("view_promotion", {"promotion_id": "P"}, "ga4"),
        ("purchase", {"transaction_id": "T", "value": 5}, "ga4"),  # no clue: GA4, value not revenue
    ],
)
def test_dialect_of(name: str, params: dict[str, Any], dialect: str) -> None:
    expected = gtag.UA_GTAG if dialect == "ua" else gtag.GA4_GTAG
    assert gtag.dialect_of(name, params) is expected


def test_ua_value_is_revenue_and_ambiguous_value_is_not() -> None:
    ua = gtag.read_arguments(_event("purchase", {"transaction_id": "T", "value": 23.07,
                                                 "items": [{"id": "A"}]}))
    assert ua.sections["purchase"].action_field.revenue == 23.07
    assert ua.sections["purchase"].action_field.value is None
    ga4 = gtag.read_arguments(_event("purchase", {"transaction_id": "T", "value": 23.07}))
    assert ga4.sections["purchase"].action_field.revenue is None
    assert ga4.sections["purchase"].action_field.value == 23.07


def test_arguments_as_a_list_read_like_the_object() -> None:
    params = {"items": [{"id": "A", "name": "Tee"}]}
    as_object = to_exponea_events(_event("view_item", params))
    as_list = to_exponea_events(["event", "view_item", params])
    assert as_object == as_list
    assert [e.event_type for e in as_list] == ["product_detail"]


def test_other_commands_and_plain_events_read_empty() -> None:
    assert not gtag.read_arguments({"0": "config", "1": "G-XXXX"}).sections
    empty = gtag.read_arguments(_event("page_view", {"page_title": "x"}))
    assert (empty.sections, empty.dropped, empty.unsupported_event) == ({}, (), None)
    article = gtag.read_arguments(_event("select_content", {"content_type": "article"}))
    assert not article.sections and article.unsupported_event is None


def test_non_ecommerce_event_with_items_is_reported() -> None:
    parsed = gtag.read_arguments(_event("search", {"items": [{"item_id": "A"}]}))
    assert parsed.unsupported_event == "search"
    assert parsed.dropped == ("items",)


@pytest.mark.parametrize(
    ("push", "path"),
    [
        ({"0": "event", "1": 5, "2": {}}, "1"),
        ({"0": "event", "1": "purchase", "2": "x"}, "2"),
    ],
)
def test_bad_arguments_name_the_argument(push: dict[str, Any], path: str) -> None:
    with pytest.raises(EcommerceError) as info:
        gtag.read_arguments(push)
    assert info.value.paths == [path]


def test_not_arguments_is_an_error() -> None:
    with pytest.raises(EcommerceError, match=r"not a gtag\.js arguments object"):
        gtag.read_arguments({"event": "purchase"})


def test_ua_errors_name_the_gtag_paths() -> None:
    push = _event("purchase", {"value": "abc", "items": [{"id": "A"}, {"id": "B", "price": "?"}],
                               "promotions": [{}]})
    with pytest.raises(EcommerceError) as info:
        gtag.read_arguments(push, strict=True)
    assert sorted(info.value.paths) == [
        "items[1].price", "promotions[0]", "transaction_id", "value"
    ]


def test_select_content_product_without_content_type_is_a_click() -> None:
    events = to_exponea_events(_event("select_content", {"items": [{"id": "A"}]}))
    assert [e.event_type for e in events] == ["product_click"]


@pytest.mark.parametrize("push", [[[]], [{"a": 1}], {"0": ["event"]}, {"0": {"x": 1}}])
def test_unhashable_first_arguments_are_not_gtag(push):
    from ga_ee_bridge.readers import detect_source

    assert detect_source(push) in (None, "ua")
