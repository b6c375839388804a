"""The GA4 reader's compiled plan gives exactly what the event schemas give, or hands over.

The schemas are the definition: params read through a ``MappingProxyType`` (no ``dict``) take
their path. The plan must agree on every params object it reads itself, in both modes, with
dirty values (blank, numeric ids, money text, negative indexes, duplicate spellings, unknown
keys), and it must read the clean events shops push (else it is no fast path).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.readers import _events, ga4, gtag
from ga_ee_bridge.readers._event_plan import event_plan
from ga_ee_bridge.readers._plan import Slow

_MODES = pytest.mark.parametrize("strict", [False, True])
_PLANNED = [event for event in ga4.EVENTS if event_plan(ga4.GA4, event, False) is not None]

_CLEAN_TEXT = st.sampled_from(["SKU-1", "Shirt", "Acme", "Apparel", "Black", "Search", "T-1"])
_DIRTY = st.one_of(
    st.none(), st.sampled_from(["", "  ", " Shirt ", "9.50", "$1,299.00", "n/a", "-3", "2.0",
                                "inf", "1e5", "eur"]),
    st.integers(-5, 30), st.integers(2**53 - 1, 2**60), st.floats(allow_nan=True),
    st.booleans(), st.just(["x"]), st.just({"a": 1}),
)


def _clean_value(kind: type) -> st.SearchStrategy[Any]:
    if kind is ga4.Money:
        return st.one_of(st.floats(0, 1e6, allow_nan=False), st.integers(0, 10**6),
                         st.sampled_from(["9.50", "120", "0.99"]))
    if kind is ga4.Count:
        return st.integers(0, 50)
    if kind is ga4.Currency:
        return st.sampled_from(["EUR", "USD", "CZK"])
    return _CLEAN_TEXT


def _object(table: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = [key for key in table if "_category_" not in key]  # one spelling a role
    return st.lists(st.sampled_from(keys), unique=True, max_size=12).flatmap(
        lambda chosen: st.fixed_dictionaries(
            {key: _clean_value(table[key][1]) for key in chosen}))


_CLEAN_ITEM = _object(ga4.ITEM_KEYS).map(lambda obj: {"item_id": "SKU-9", **obj})
_ODD_KEYS = ["item_foo", "dimension1", "items_x"]


def _clean_params(event: str) -> st.SearchStrategy[dict[str, Any]]:
    params = st.tuples(_object(ga4.PARAM_KEYS), st.lists(_CLEAN_ITEM, max_size=4)).map(
        lambda pair: {**pair[0], "items": pair[1]})
    if event in ("purchase", "refund"):
        params = params.map(lambda obj: {"transaction_id": "T-1", **obj})
    return params


@st.composite
def _dirty_params(draw: st.DrawFn, event: str) -> dict[str, Any]:
    """Clean params with one or two dirty values (any key, odd keys too, a second spelling of a
    category level, a negative index...) put in the event or in one of its items."""
    params = draw(_clean_params(event))
    for _ in range(draw(st.integers(1, 2))):
        items = params["items"]
        if type(items) is list and items and type(items[0]) is dict and draw(st.booleans()):
            target = items[draw(st.integers(0, len(items) - 1))]  # (items are all dicts)
            key = draw(st.sampled_from([*ga4.ITEM_KEYS, *_ODD_KEYS]))
            odd = draw(st.sampled_from(["value", "both spellings", "negative index"]))
            if odd == "both spellings":  # a category level under both spellings
                level = draw(st.integers(2, 5))
                target[f"item_category{level}"] = draw(_CLEAN_TEXT)
                key = f"item_category_{level}"
            elif odd == "negative index":
                target["index"] = draw(st.integers(-3, -1))
                continue
        else:
            target = params
            key = draw(st.sampled_from([*ga4.PARAM_KEYS, *_ODD_KEYS, "items"]))
        target[key] = draw(_DIRTY | _CLEAN_TEXT)
    return params


def _params(event: str, dirty: bool) -> st.SearchStrategy[dict[str, Any]]:
    return _dirty_params(event) if dirty else _clean_params(event)


def _read(event: str, params: Any, strict: bool) -> Any:
    """The model read by the entry point, or the messages of the error raised."""
    try:
        return ga4.read_event(event, params, strict=strict)
    except EcommerceError as err:
        return ("error", err.messages)


def _through_schemas(event: str, params: dict[str, Any], strict: bool) -> Any:
    return _read(event, MappingProxyType(params), strict)


def _through_plan(event: str, params: dict[str, Any], strict: bool) -> Any:
    plan = event_plan(ga4.GA4, event, strict)
    assert plan is not None
    try:
        return plan(params)
    except (Slow, ValidationError):
        return None


@_MODES
@settings(max_examples=300)
@given(data=st.data())
def test_the_plan_agrees_with_the_schemas(strict: bool, data: st.DataObject) -> None:
    event = data.draw(st.sampled_from(_PLANNED))
    params = data.draw(_params(event, dirty=data.draw(st.booleans())))
    planned = _through_plan(event, params, strict)
    if planned is not None:
        assert planned == _through_schemas(event, params, strict)
        assert _read(event, params, strict) == planned  # the entry point uses it


@_MODES
@settings(max_examples=100)
@given(data=st.data())
def test_the_plan_reads_clean_events(strict: bool, data: st.DataObject) -> None:
    event = data.draw(st.sampled_from(_PLANNED))
    params = data.draw(_params(event, dirty=False))
    assert _through_plan(event, params, strict) == _through_schemas(event, params, strict)


@pytest.mark.parametrize(("event", "params"), [
    ("add_to_cart", {"items": [{"item_id": "A", "price": "n/a"}]}),  # a value to drop
    ("add_to_cart", {"items": [{"item_id": "A", "index": -1}]}),  # a negative index
    ("add_to_cart", {"items": [{"price": 1}]}),  # neither id nor name
    ("add_to_cart", {"items": {"item_id": "A"}}),  # an object where a list belongs
    ("add_to_cart", {"items": ["A"]}),
    ("view_item", {"items": [{"item_id": "A", "item_category2": "x", "item_category_2": "y"}]}),
    ("purchase", {"value": 1, "items": [{"item_id": "A"}]}),  # no transaction id
    ("purchase", {"transaction_id": 7, "items": []}),  # strict wants text
])
def test_what_needs_a_warning_or_an_error_goes_to_the_schemas(
    event: str, params: dict[str, Any]
) -> None:
    assert _through_plan(event, params, strict=True) is None
    for strict in (False, True):
        assert _read(event, params, strict) == _through_schemas(event, params, strict)


def test_the_plan_reads_google_s_purchase_and_leaves_promotions_to_the_schemas() -> None:
    params = {"transaction_id": "T_12345", "value": 25.42, "tax": 4.9, "shipping": 5.99,
              "currency": "USD", "coupon": "SUMMER_SALE",
              "items": [{"item_id": "SKU_12345", "item_name": "Stan and Friends Tee",
                         "index": 0, "item_category": "Apparel", "item_category2": "Adult",
                         "price": 10.01, "quantity": 3, "item_list_name": "Related"}]}
    planned = _through_plan("purchase", params, strict=False)
    assert planned is not None and planned == _through_schemas("purchase", params, False)
    assert planned.dropped_keys == ("items[0].item_list_name",)
    assert event_plan(ga4.GA4, "view_promotion", False) is None
    assert event_plan(gtag.UA_GTAG, "purchase", False) is None  # gtag.js has its promotions list


_ROLE_SETS = [_events._PRODUCT_USED, _events._PRODUCT_LIST_USED, _events._IMPRESSION_USED,
              _events._PROMOTION_USED]


def _left_out(item: Any) -> list[tuple[str, ...]]:
    return [item.unused(roles) for roles in _ROLE_SETS]


@_MODES
@settings(max_examples=200)
@given(data=st.data())
def test_an_items_left_out_keys_are_the_same_remembered_or_not(strict: bool,
                                                               data: st.DataObject) -> None:
    # Item.unused remembers its answer for items whose every key was read; items with the same
    # keys but a blank, dirty or second-spelled value must still get their own.
    clean = data.draw(_CLEAN_ITEM)
    variant = dict(clean)
    variant[data.draw(st.sampled_from([*clean, *_ODD_KEYS, "item_category_2"]))] = data.draw(
        _DIRTY | _CLEAN_TEXT)
    schema = _events.item_schema(ga4.GA4, strict)
    for obj in (clean, variant, clean, variant):
        try:
            item = schema.load(obj)
        except ValidationError:
            continue
        assert _left_out(item) == [item._unused(roles) for roles in _ROLE_SETS]


def test_items_with_the_same_keys_and_a_blank_second_spelling_differ() -> None:
    schema = _events.item_schema(ga4.GA4, False)
    pushed = schema.load({"item_id": "A", "item_category2": "x", "item_category_2": "y"})
    blank = schema.load({"item_id": "A", "item_category2": "x", "item_category_2": " "})
    for _ in range(2):  # the second round may come from the memo
        assert pushed.unused(_events._PRODUCT_USED) == ("item_category_2",)
        assert blank.unused(_events._PRODUCT_USED) == ()
        assert schema.load({"item_id": "A", "quantity": 2}).unused(
            _events._IMPRESSION_USED) == ("quantity",)
