"""Property tests of the ``bloomreach`` mapping over objects from ``ga_ee_bridge.testing``.

What each section must give is computed here from the clean values the generated object stands
for (``case.intended``) and issue 11's table, not from the mapping's own tables.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ga_ee_bridge import to_exponea_events
from ga_ee_bridge.core.model import KINDS
from ga_ee_bridge.send.validation import MAX_PROPERTIES, check_event_type, check_properties
from ga_ee_bridge.testing import strategies as gst

LINE_EVENTS = {"detail": "view_item", "add": "cart_update", "remove": "cart_update",
               "purchase": "purchase_item", "refund": "purchase_item"}
SUMMARY = {"checkout": "checkout", "checkout_option": "checkout", "purchase": "purchase",
           "refund": "purchase"}
SDK_KINDS = ("impressions", "click", "promoView", "promoClick")
RECOMMENDED = tuple(kind for kind in KINDS if kind not in SDK_KINDS)


def _products(case: gst.EcommerceCase, kind: str) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = case.intended[kind].get("products", [])
    return products


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(RECOMMENDED).flatmap(lambda kind: st.tuples(st.just(kind),
                                                                     gst.cases([kind]))))
def test_one_line_event_per_product_and_the_summary_last(drawn: tuple[str, Any]) -> None:
    kind, case = drawn
    events = to_exponea_events(case.ecommerce, kind, mapping="bloomreach")
    products = _products(case, kind)
    line_event, summary = LINE_EVENTS.get(kind), SUMMARY.get(kind)
    lines = [event for event in events if event.event_type == line_event]
    assert len(lines) == (len(products) if line_event else 0)
    assert len(events) == len(lines) + (1 if summary else 0)
    if summary:
        assert events[-1].event_type == summary
    for event, product in zip(lines, products if line_event else [], strict=True):
        properties = event.properties
        assert properties.get("product_id") == product.get("id")
        assert properties.get("title") == product.get("name")
        assert properties.get("price") == product.get("price")  # zeros kept, typed
        if kind != "detail":
            assert properties.get("quantity") == product.get("quantity")
        if kind in ("add", "remove"):
            assert properties["action"] == kind
            assert properties.get("total_quantity") == product.get("quantity")
        if "price" in product and "quantity" in product and kind != "detail":
            assert math.isclose(properties["total_price"], product["price"] * product["quantity"],
                                rel_tol=1e-9, abs_tol=1e-9)
        if kind in ("purchase", "refund"):
            assert properties["purchase_status"] == ("success" if kind == "purchase" else "refund")
        category = product.get("category")
        parts = [part.strip() for part in (category or "").split("/") if part.strip()]
        assert [properties.get(f"category_{n}") for n in range(1, len(parts) + 2)] == [
            *parts, None]
        assert properties.get("categories_path") == (" > ".join(parts) if parts else None)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(("add", "remove", "checkout", "purchase", "refund")).flatmap(
    lambda kind: st.tuples(st.just(kind), gst.cases([kind]))))
def test_totals_and_ids_match_the_lines(drawn: tuple[str, Any]) -> None:
    kind, case = drawn
    events = to_exponea_events(case.ecommerce, kind, mapping="bloomreach")
    products = _products(case, kind)
    carriers = [e for e in events if "product_list" in e.properties or
                e.event_type in ("checkout", "purchase", "cart_update")]
    for event in carriers:
        properties = event.properties
        product_list = properties.get("product_list", [])
        assert properties.get("product_ids", []) == [
            entry["product_id"] for entry in product_list if "product_id" in entry]
        quantities = [entry["quantity"] for entry in product_list if "quantity" in entry]
        assert properties.get("total_quantity") == (sum(quantities) if quantities else None)
    if kind in ("checkout", "purchase", "refund"):
        summary = events[-1].properties
        ids = [p["id"] for p in products if "id" in p]
        assert summary.get("product_ids", []) == ids
        quantities = [p["quantity"] for p in products if "quantity" in p]
        assert summary.get("total_quantity") == (sum(quantities) if quantities else None)


@settings(max_examples=50, deadline=None)
@given(gst.cases())
def test_every_event_is_valid_for_the_tracking_api(case: gst.EcommerceCase) -> None:
    sdk = to_exponea_events(case.ecommerce, mapping="sdk")
    events = to_exponea_events(case.ecommerce, mapping="bloomreach")
    for event in events:
        check_event_type(event.event_type)
        assert check_properties(event.properties) == dict(event.properties)
        assert len(event.properties) <= MAX_PROPERTIES
        assert event.properties["tracked_via"] == "ecommerce"
        json.dumps(dict(event.properties), allow_nan=False)
        for value in event.properties.values():
            assert value not in ("", None, [], {})
    unchanged = [e for e in sdk if e.event_type in (
        "product_impression", "product_click", "promo_impression", "promo_click")]
    assert [e for e in events if e.event_type in (
        "product_impression", "product_click", "promo_impression", "promo_click")] == unchanged


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(RECOMMENDED).flatmap(lambda kind: st.tuples(st.just(kind),
                                                                     gst.cases([kind]))))
def test_the_documented_table_lists_every_property_in_order(drawn: tuple[str, Any]) -> None:
    from ga_ee_bridge.mappings.bloomreach import PROPERTIES

    kind, case = drawn
    for event in to_exponea_events(case.ecommerce, kind, mapping="bloomreach"):
        documented = ["tracked_via", *(name for name, _ in PROPERTIES[(kind, event.event_type)])]
        names: list[str] = []
        for name in event.properties:
            if name.startswith("category_"):
                name = "category_1`..`category_N"
            elif re.fullmatch(r"(dimension|metric)\d+", name):
                name = "dimensionN` / `metricN"
            if not names or names[-1] != name:
                names.append(name)
        positions = [documented.index(name) for name in names]
        assert positions == sorted(positions), (kind, event.event_type, names)
