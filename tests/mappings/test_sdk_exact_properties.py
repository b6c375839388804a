"""Invariants of ``sdk-exact`` (hypothesis) and of its JavaScript semantics.

The SDK's rules, written out here independently of the mapping: one event per item of a clean
section (plus the summary), sections independent of each other, only truthy values of the listed
fields, numbers as JavaScript prints them, and output the Tracking API takes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ga_ee_bridge import KINDS
from ga_ee_bridge.errors import SdkThrewError
from ga_ee_bridge.mappings._javascript import (
    js_double,
    js_number,
    js_number_text,
    js_truthy,
    js_value,
)
from ga_ee_bridge.mappings.sdk_exact import SDK_EXACT
from ga_ee_bridge.send.validation import check_properties
from ga_ee_bridge.testing import strategies as gst

JS_NUMBERS = json.loads((Path(__file__).parent / "js_numbers.json").read_text(encoding="utf-8"))
ITEM_EVENTS = {
    "impressions": "product_impression", "click": "product_click", "detail": "product_detail",
    "add": "product_add_to_cart", "remove": "product_remove_from_cart",
    "promoView": "promo_impression", "promoClick": "promo_click", "checkout": "product_checkout",
    "purchase": "product_purchase", "refund": "product_refund",
}
SUMMARY_EVENTS = {"checkout": "checkout", "checkout_option": "checkout_option",
                  "purchase": "transaction", "refund": "refund"}
NAMES = {
    "tracked_via", "currency_code", "transaction_id", "affiliation", "revenue", "tax", "shipping",
    "coupon", "list", "step", "option", "product_id", "name", "brand", "category", "variant",
    "price", "quantity", "position", "promo_id", "creative", "refund_type",
}
_KEYS = st.sampled_from((
    *KINDS, "id", "name", "price", "quantity", "position", "list", "coupon", "products",
    "promotions", "actionField", "currencyCode", "hasOwnProperty", "dimension1", "sku", "1",
))
_NUMBERS = (st.integers() | st.floats(allow_nan=False)
            | st.sampled_from((1e16, 1e21, 2**53 + 1, 10**400, 0.0, -0.0)))
_JSON = st.recursive(
    st.none() | st.booleans() | _NUMBERS | st.text(max_size=5) | _KEYS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)
_ECOMMERCE = st.dictionaries(_KEYS, _JSON, max_size=5)


def run(ecommerce: Any, kinds: tuple[str, ...]) -> tuple[list[Any], SdkThrewError | None]:
    """The events sent, and the throw (if the SDK throws)."""
    try:
        return list(SDK_EXACT.events_raw(ecommerce, kinds, tracked_via="eecommerce")), None
    except SdkThrewError as threw:
        return list(threw.events), threw


def numbers_in(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from numbers_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers_in(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield value


@given(gst.cases(dirty=False, push=None))
def test_each_item_of_a_clean_section_is_one_event_then_the_summary(
    case: gst.EcommerceCase,
) -> None:
    ecommerce = case.ecommerce
    for kind in KINDS:
        events, threw = run(ecommerce, (kind,))
        assert threw is None
        section = ecommerce.get(kind)
        want: list[str] = []
        if section is not None:
            if kind == "impressions":
                items = section
            else:
                items = section.get("promotions" if kind.startswith("promo") else "products", [])
            want = [ITEM_EVENTS[kind]] * len(items) if kind in ITEM_EVENTS else []
            want += [SUMMARY_EVENTS[kind]] if kind in SUMMARY_EVENTS else []
        assert [e.event_type for e in events] == want


@given(_ECOMMERCE)
def test_all_is_the_sections_one_by_one_until_the_first_throw(ecommerce: dict[str, Any]) -> None:
    events, threw = run(ecommerce, KINDS)
    expected: list[Any] = []
    for kind in KINDS:
        one, one_threw = run(ecommerce, (kind,))
        expected += one
        if one_threw is not None:
            assert threw is not None and threw.paths == one_threw.paths
            break
    else:
        assert threw is None
    assert events == expected


@given(_ECOMMERCE, st.sampled_from((*KINDS, "Purchase", "")))
def test_only_truthy_listed_values_numbers_as_javascript_prints_them(
    ecommerce: dict[str, Any], kind: str
) -> None:
    events, _ = run(ecommerce, KINDS if kind == "Purchase" else (kind,))
    for event in events:
        properties = dict(event.properties)
        assert next(iter(properties)) == "tracked_via" and set(properties) <= NAMES
        # truthy, or null: an infinity (10**400), which the SDK's JSON sends as null
        assert all(js_truthy(value) or value is None for value in properties.values())
        assert json.dumps(js_value(properties)) == json.dumps(properties)  # already as JS sends
        for number in numbers_in(properties):
            assert js_number(number) == number and type(js_number(number)) is type(number)
            if isinstance(number, float):
                assert not number.is_integer() or abs(number) >= 1e21
        command = event.to_command({"registered": "c1"}, timestamp=1.0)
        assert check_properties(command["data"]["properties"]) == properties
        json.dumps(command, allow_nan=False)
    assert run(ecommerce, ("Purchase",))[0] == []


@given(st.integers() | st.floats(allow_nan=False, allow_infinity=False))
def test_a_number_is_the_nearest_double_printed_as_javascript_prints_it(number: float) -> None:
    value = js_number(number)
    double = js_double(number)
    if not math.isfinite(double):
        assert value is None
        return
    assert float(value) == double and float(js_number_text(number)) == double
    assert js_number(value) == value  # printing what JavaScript printed changes nothing
    assert isinstance(value, int) == (double.is_integer() and abs(double) < 1e21)
    if isinstance(value, int):
        assert js_number_text(number) == str(value)


def test_numbers_match_node_s_output() -> None:
    for source, text, stringified in JS_NUMBERS:
        number = json.loads(source)
        assert js_number_text(number) == text, source
        want = json.loads(stringified)["v"]
        got = js_number(number)
        assert (type(got), got) == (type(want), want), source


def test_truthiness_and_key_order_of_javascript() -> None:
    assert [js_truthy(v) for v in (0, 0.0, -0.0, "", None, False, math.nan)] == [False] * 7
    assert all(js_truthy(v) for v in ("0", "false", [], {}, True, 0.1, -1))
    value = js_value({"b": 1.0, "10": 2, "2": 3, "01": 4, "a": {"1": 1e16, "x": math.inf}})
    assert list(value) == ["2", "10", "b", "01", "a"]
    assert value["a"] == {"1": 10**16, "x": None} and type(value["b"]) is int
