"""GA4 dataLayer reader: key mapping, index/position, value/revenue, errors named by GA4 path."""

from __future__ import annotations

from typing import Any

import pytest

from ga_ee_bridge import EcommerceError, to_exponea_events
from ga_ee_bridge.core.model import Product
from ga_ee_bridge.readers import read_push
from ga_ee_bridge.readers.ga4 import read_event


def _purchase(**params: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"transaction_id": "T1", "items": [{"item_id": "A", "price": 5}]}
    base.update(params)
    return {"event": "purchase", "ecommerce": base}


def test_error_paths_name_the_ga4_keys() -> None:
    push = _purchase(transaction_id="", value="abc", items=[
        {"item_id": "A", "price": "1.00"}, {"item_id": "B", "price": "x", "quantity": "1.5"}, {},
    ])
    with pytest.raises(EcommerceError) as info:
        read_push(push, strict=True)
    errors = dict(info.value.errors)
    assert errors["items[1].price"].endswith("'x'")
    assert errors["items[1].quantity"].startswith("not an integer")
    assert "needs an 'item_id' or an 'item_name'" in errors["items[2]"]
    assert errors["value"].endswith("'abc'")
    assert errors["transaction_id"].startswith("missing: a purchase needs a transaction_id")


def test_missing_event_name_is_an_error_naming_event() -> None:
    with pytest.raises(EcommerceError) as info:
        read_push({"ecommerce": {"items": [{"item_id": "A"}]}}, source="ga4")
    assert info.value.paths == ["event"]


def test_index_is_zero_based_and_becomes_one_based_position() -> None:
    parsed = read_event("add_to_cart", {"items": [{"item_id": "A", "index": 0},
                                                  {"item_id": "B", "index": "4"}]})
    items = parsed.sections["add"].items
    assert [item.position for item in items] == [1, 5]


def test_negative_index_is_an_error_in_strict_mode_and_left_out_leniently() -> None:
    with pytest.raises(EcommerceError) as info:
        read_event("add_to_cart", {"items": [{"item_id": "A", "index": -1}]}, strict=True)
    assert info.value.paths == ["items[0].index"]
    lenient = read_event("add_to_cart", {"items": [{"item_id": "A", "index": -1}]})
    assert lenient.sections["add"].items[0].position is None
    assert [(w.path, w.value) for w in lenient.warnings] == [("items[0].index", -1)]


def test_strict_rejects_what_lenient_repairs() -> None:
    params = {"items": [{"item_id": 42, "index": "3", "price": "$1,299.00"}]}
    lenient = read_event("add_to_cart", params).sections["add"].items[0]
    assert isinstance(lenient, Product)
    assert (lenient.id, lenient.position, lenient.price) == ("42", 4, 1299.0)
    with pytest.raises(EcommerceError) as info:
        read_event("add_to_cart", params, strict=True)
    assert sorted(info.value.paths) == ["items[0].index", "items[0].item_id", "items[0].price"]


def test_categories_join_with_slash_and_early_spelling_is_read() -> None:
    parsed = read_event("view_item", {"items": [
        {"item_id": "A", "item_category": "Apparel", "item_category_2": "Adult",
         "item_category3": "Shirts"},
        {"item_id": "B", "item_category": "Apparel", "item_category2": "Men",
         "item_category_2": "Adult"},
    ]})
    first, second = parsed.sections["detail"].items
    assert isinstance(first, Product) and isinstance(second, Product)
    assert first.category == "Apparel/Adult/Shirts"
    assert second.category == "Apparel/Men"  # the current spelling wins; the other is reported
    assert parsed.dropped == ("items[1].item_category_2",)


@pytest.mark.parametrize(
    ("params", "revenue"),
    [
        ({"value": 10, "tax": 2, "shipping": 3}, 15.0),
        ({"value": 10, "tax": 0, "shipping": 0}, 10.0),
        ({"value": 10, "tax": 2}, None),  # shipping unknown: no honest revenue
        ({"value": 10}, None),
        ({"tax": 2, "shipping": 3}, None),
    ],
)
def test_revenue_only_when_value_tax_and_shipping_are_all_pushed(
    params: dict[str, Any], revenue: float | None
) -> None:
    action = read_push(_purchase(**params)).sections["purchase"].action_field
    assert action.revenue == revenue
    assert action.value == (10.0 if "value" in params else None)
    summary = to_exponea_events(_purchase(**params))[-1].properties
    assert summary.get("revenue") == revenue
    assert summary.get("value") == action.value


def test_value_on_non_order_events_is_value_never_revenue() -> None:
    parsed = read_event("add_to_cart", {"value": 30, "tax": 1, "shipping": 2,
                                        "items": [{"item_id": "A"}]})
    action = parsed.sections["add"].action_field
    assert (action.value, action.revenue) == (30.0, None)


def test_sdk_exact_sends_ga4_value_as_pushed_and_never_ua_value() -> None:
    events = to_exponea_events(_purchase(value="72.05"), mapping="sdk-exact")
    assert events[-1].properties["value"] == "72.05"
    ua = {"ecommerce": {"purchase": {"actionField": {"id": "T1", "value": "9"}}}}
    ua_events = to_exponea_events(ua, mapping="sdk-exact")
    assert "value" not in ua_events[-1].properties
    assert ua_events.dropped == ("purchase.actionField.value",)


def test_unknown_event_with_items_is_reported_unsupported() -> None:
    parsed = read_push({"event": "gtm4wp.addProductToCartEEC",
                        "ecommerce": {"items": [{"item_id": "A"}]}})
    assert parsed.unsupported_event == "gtm4wp.addProductToCartEEC"
    assert not parsed.sections
    assert parsed.dropped == ("items",)


def test_promotion_needs_an_id_or_a_name() -> None:
    with pytest.raises(EcommerceError) as info:
        read_event("view_promotion", {"creative_slot": "top", "items": [{"item_id": "A"}]})
    assert info.value.paths == ["promotion_id"]


def test_flat_items_object_is_repaired_only_when_lenient() -> None:
    params = {"items": {"item_id": "A"}}
    assert read_event("view_item", params).sections["detail"].items[0].id == "A"
    with pytest.raises(EcommerceError) as info:
        read_event("view_item", params, strict=True)
    assert info.value.paths == ["items"]


def test_click_list_from_event_else_from_first_item_and_others_reported() -> None:
    parsed = read_event("select_item", {"items": [
        {"item_id": "A", "item_list_name": "Search"}, {"item_id": "B", "item_list_name": "Other"},
    ]})
    assert parsed.sections["click"].action_field.list == "Search"
    assert parsed.dropped == ("items[1].item_list_name",)
