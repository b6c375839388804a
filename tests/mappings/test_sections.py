"""Lenient reading keeps the push; a bad section costs only itself (issue 9, points 2 and 3).

Real shops push ``"brand": false`` (PHP's "no value"), ``"variant": {...}``, ``"position": "top"``:
the value is left out with a warning naming its path and value, and the event is kept. A section
that cannot be read fails alone: ``kind="detail"`` never reads ``add``, and under ``"all"`` the
good sections convert while the bad one is in ``section_errors``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ga_ee_bridge import EcommerceError, parse_ecommerce, to_exponea_events
from ga_ee_bridge.readers import read_push
from ga_ee_bridge.readers.analyticsjs import read_analyticsjs_sends
from ga_ee_bridge.readers.bigquery import read_bigquery_row
from ga_ee_bridge.testing import strategies as gst

DETAIL = {"actionField": {"list": "Search"},
          "products": [{"id": "P1", "name": "Shirt", "price": "15.25"}]}
BAD_ADD = {"products": [{"id": "P2", "quantity": 1.5}, {"brand": "no id nor name"}]}


def _props(events: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event_type, dict(e.properties)) for e in events]


@pytest.mark.parametrize(
    ("field", "value"),
    [("brand", False), ("variant", {"color": "red"}), ("variant", {}), ("position", "top"),
     ("category", ["A", "B"]), ("price", "call us"), ("price", 10**400), ("id", float("inf"))],
)
def test_an_unreadable_optional_value_keeps_its_push_with_a_warning(field: str, value: Any) -> None:
    push = {"event": "productImpression", "ecommerce": {
        "impressions": [{"id": "P1", "name": "Shirt", "list": "Home", field: value}],
        "click": {"products": [{"id": "P1", "name": "Shirt", field: value}]},
    }}
    events = to_exponea_events(push)
    assert [e.event_type for e in events] == ["product_impression", "product_click"]
    assert all(dict(e.properties)["name"] == "Shirt" and field not in e.properties
               for e in events)
    assert [(w.path, w.value) for w in events.warnings] == [
        (f"impressions[0].{field}", value), (f"click.products[0].{field}", value)
    ]
    assert all("left out" in w.message for w in events.warnings)
    assert events.section_errors == ()
    with pytest.raises(EcommerceError) as info:
        to_exponea_events(push, strict=True)  # strict keeps today's strictness
    assert f"impressions[0].{field}" in info.value.paths


def test_the_magento_brand_false_push_keeps_every_impression() -> None:
    impressions = [{"id": str(i), "name": f"P{i}", "brand": False, "position": i}
                   for i in range(1, 4)]
    events = to_exponea_events({"ecommerce": {"currencyCode": "EUR", "impressions": impressions}})
    assert [dict(e.properties)["position"] for e in events] == [1, 2, 3]
    assert len(events.warnings) == 3


def test_ga4_and_gtag_values_are_left_out_with_a_warning_too() -> None:
    items = [{"item_id": "A", "item_brand": False, "index": "top", "item_variant": {}}]
    ga4 = read_push({"event": "view_item_list", "ecommerce": {"items": items}})
    assert [w.path for w in ga4.warnings] == ["items[0].item_brand", "items[0].index",
                                              "items[0].item_variant"]
    assert ga4.sections["impressions"].items[0].id == "A"
    assert ga4.sections["impressions"].items[0].brand is None
    gtag = to_exponea_events({"0": "event", "1": "view_item",
                              "2": {"items": [{"id": "A", "brand": False}]}})
    assert [e.event_type for e in gtag] == ["product_detail"]
    assert [w.path for w in gtag.warnings] == ["items[0].brand"]


def test_analyticsjs_and_bigquery_warnings_go_with_their_send_and_hit() -> None:
    sends = read_analyticsjs_sends([
        ["ec:addProduct", {"id": "A", "brand": False}],
        ["ec:setAction", "detail"],
        ["send", "pageview"],
        ["ec:addProduct", {"id": "B"}],
        ["ec:setAction", "add"],
        ["send", "event"],
    ])
    assert [[w.path for w in s.ecommerce.warnings] for s in sends] == [["[0][1].brand"], []]
    row = {"visitStartTime": "x", "fullVisitorId": "1", "hits": [
        {"eCommerceAction": {"action_type": "2"}, "product": [{"productSKU": "A"}]},
        {"eCommerceAction": {"action_type": "3"},
         "product": [{"productSKU": "B", "productQuantity": "lots"}]},
    ]}
    records = list(read_bigquery_row(row))
    assert [[w.path for w in r.ecommerce.warnings] for r in records] == [
        ["visitStartTime"], ["hits[1].product[0].productQuantity"]
    ]
    assert records[0].timestamp is None


# --- section isolation --------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True])
def test_a_bad_section_does_not_affect_another_kind(strict: bool) -> None:
    events = to_exponea_events({"detail": DETAIL, "add": BAD_ADD}, "detail", strict=strict)
    assert [e.event_type for e in events] == ["product_detail"]
    assert events.section_errors == () and events.warnings == ()
    with pytest.raises(EcommerceError) as info:
        to_exponea_events({"detail": DETAIL, "add": BAD_ADD}, "add", strict=strict)
    assert "add.products[1]" in info.value.paths
    assert all(path.startswith("add.") for path in info.value.paths)


def test_under_all_the_good_sections_convert_and_the_bad_one_is_reported() -> None:
    push = {"event": "x", "ecommerce": {
        "currencyCode": "EUR", "detail": DETAIL, "add": BAD_ADD, "promoView": "not an object",
        "impressions": [{"id": "I1", "position": "top"}],
    }}
    events = to_exponea_events(push)
    assert [e.event_type for e in events] == ["product_impression", "product_detail"]
    assert [(kind, error.paths) for kind, error in events.section_errors] == [
        ("add", ["add.products[1]"]), ("promoView", ["promoView"])
    ]
    assert [w.path for w in events.warnings] == ["impressions[0].position"]
    parsed = parse_ecommerce(push)
    assert list(parsed.sections) == ["impressions", "detail"]
    assert [kind for kind, _ in parsed.section_errors] == ["add", "promoView"]


def test_when_every_section_asked_for_fails_the_call_raises_with_all_their_errors() -> None:
    bad = {"add": BAD_ADD, "purchase": {"products": [{"id": "A"}]}, "promoClick": 5}
    with pytest.raises(EcommerceError) as info:
        to_exponea_events(bad)
    assert sorted(info.value.paths) == ["add.products[1]", "promoClick", "purchase.actionField"]
    with pytest.raises(EcommerceError):
        parse_ecommerce(bad)
    assert to_exponea_events(bad, "detail") == []  # nothing asked for is present: nothing to do


def test_strict_mode_under_all_raises_for_any_bad_section() -> None:
    with pytest.raises(EcommerceError) as info:
        to_exponea_events({"detail": DETAIL, "add": BAD_ADD}, strict=True)
    assert set(info.value.paths) == {"add.products[0].quantity", "add.products[1]"}


def test_a_section_the_mapping_refuses_costs_only_itself() -> None:
    many = {f"dimension{i}": "x" for i in range(1, 300)}
    push = {"detail": DETAIL, "add": {"products": [{"id": "A", **many}]}}
    events = to_exponea_events(push)
    assert [e.event_type for e in events] == ["product_detail"]
    assert [(kind, error.paths) for kind, error in events.section_errors] == [
        ("add", ["add.products[0]"])
    ]


def test_a_purchase_whose_id_cannot_be_read_fails_as_one_without_id() -> None:
    for bad_id in ({}, [], False, float("nan")):
        with pytest.raises(EcommerceError) as info:
            to_exponea_events({"purchase": {"actionField": {"id": bad_id}, "products": []}})
        assert info.value.paths == ["purchase.actionField.id"]


@settings(max_examples=25)
@given(gst.cases(push=None), st.sampled_from(["add", "purchase", "impressions", "promoView"]))
def test_breaking_one_other_section_never_changes_the_events_of_a_kind(
    case: gst.EcommerceCase, broken: str
) -> None:
    obj = dict(case.intended)
    spoilt = {**obj, broken: 12}
    for kind in case.kinds:
        if kind != broken:
            assert _props(to_exponea_events(spoilt, kind)) == _props(to_exponea_events(obj, kind))
    others = {k: v for k, v in obj.items() if k != broken}
    if any(kind != broken for kind in case.kinds):
        events = to_exponea_events(spoilt)
        assert [kind for kind, _ in events.section_errors] == [broken]
        assert _props(events) == _props(to_exponea_events(others))


def test_read_push_with_kinds_reads_only_those_sections_in_every_form() -> None:
    bad_ga4 = {"event": "add_to_cart", "ecommerce": {"items": [{"price": "1"}]}}
    assert read_push(bad_ga4, kinds=("detail",)).sections == {}
    with pytest.raises(EcommerceError):
        read_push(bad_ga4, kinds=("add",))
    bad_gtag = {"0": "event", "1": "purchase", "2": {"items": [{"id": "A"}]}}
    assert read_push(bad_gtag, kinds=("detail",)).sections == {}
    ua = {"event": "x", "ecommerce": {"detail": DETAIL, "add": BAD_ADD}}
    parsed = read_push(ua, kinds=("detail",))
    assert list(parsed.sections) == ["detail"] and parsed.section_errors == ()
