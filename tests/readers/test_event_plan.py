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
from support.ga4_params import CLEAN_ITEM, CLEAN_TEXT, DIRTY, ODD_KEYS, event_params

from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.readers import _events, ga4, gtag
from ga_ee_bridge.readers._event_plan import event_plan
from ga_ee_bridge.readers._plan import Slow

_MODES = pytest.mark.parametrize("strict", [False, True])
_PLANNED = [event for event in ga4.EVENTS if event_plan(ga4.GA4, event, False) is not None]

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
    params = data.draw(event_params(event, dirty=data.draw(st.booleans())))
    planned = _through_plan(event, params, strict)
    if planned is not None:
        assert planned == _through_schemas(event, params, strict)
        assert _read(event, params, strict) == planned  # the entry point uses it


@_MODES
@settings(max_examples=100)
@given(data=st.data())
def test_the_plan_reads_clean_events(strict: bool, data: st.DataObject) -> None:
    event = data.draw(st.sampled_from(_PLANNED))
    params = data.draw(event_params(event, dirty=False))
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


_ROLE_SETS = [_events.PRODUCT_USED, _events.PRODUCT_LIST_USED, _events.IMPRESSION_USED,
              _events.PROMOTION_USED]


def _left_out(item: Any) -> list[tuple[str, ...]]:
    return [item.unused(roles) for roles in _ROLE_SETS]


@_MODES
@settings(max_examples=200)
@given(data=st.data())
def test_an_items_left_out_keys_are_the_same_remembered_or_not(strict: bool,
                                                               data: st.DataObject) -> None:
    # Item.unused remembers its answer for items whose every key was read; items with the same
    # keys but a blank, dirty or second-spelled value must still get their own.
    clean = data.draw(CLEAN_ITEM)
    variant = dict(clean)
    variant[data.draw(st.sampled_from([*clean, *ODD_KEYS, "item_category_2"]))] = data.draw(
        DIRTY | CLEAN_TEXT)
    schema = _events.item_schema(ga4.GA4, strict)
    for obj in (clean, variant, clean, variant):
        try:
            item = schema.load(obj)
        except ValidationError:
            continue
        assert _left_out(item) == [_events._unused(item.table, item.keys, item.original, roles)
                                   for roles in _ROLE_SETS]


def test_items_with_the_same_keys_and_a_blank_second_spelling_differ() -> None:
    schema = _events.item_schema(ga4.GA4, False)
    pushed = schema.load({"item_id": "A", "item_category2": "x", "item_category_2": "y"})
    blank = schema.load({"item_id": "A", "item_category2": "x", "item_category_2": " "})
    for _ in range(2):  # the second round may come from the memo
        assert pushed.unused(_events.PRODUCT_USED) == ("item_category_2",)
        assert blank.unused(_events.PRODUCT_USED) == ()
        assert schema.load({"item_id": "A", "quantity": 2}).unused(
            _events.IMPRESSION_USED) == ("quantity",)
