"""The compiled sdk mapping of GA4 events gives exactly the model's events and dropped paths, or
gives up.

The model's path (the GA4 reader, then the mapping) is the definition; the compiled one must agree
on every event it converts itself, in both modes, with dirty params, and it must convert the clean
events shops push (else it is no fast path). The converter takes it only for the pushes
:func:`~ga_ee_bridge.readers.ga4_params` finds, which must be the pushes read as GA4.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.ga4_params import CLEAN_TEXT, event_params

from ga_ee_bridge.convert.encoders import encode_command, encode_command_split
from ga_ee_bridge.core.model import KINDS
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.mappings import MAPPINGS
from ga_ee_bridge.mappings.compiled_ga4 import compile_ga4
from ga_ee_bridge.mappings.taxonomy import SplitEvent
from ga_ee_bridge.readers import detect_source, ga4, ga4_params, read_push

_MODES = pytest.mark.parametrize("strict", [False, True])
_SDK: Any = MAPPINGS["sdk"]
_COMPILED_KINDS = {"impressions", "click", "detail", "add", "remove", "checkout", "purchase",
                   "refund"}
_COMPILED = [event for event, spec in ga4.EVENTS.items()
             if spec.kind in _COMPILED_KINDS and spec.kind_of is None]


def _compiled(event: str, params: Any, strict: bool) -> Any:
    events = compile_ga4(_SDK, tracked_via="ecommerce", strict=strict)
    assert events is not None
    return events(event, params)


def _by_model(event: str, params: Any, strict: bool) -> tuple[list[Any], Any, tuple[str, ...]]:
    parsed = ga4.read_event(event, params, strict=strict)
    assert not parsed.warnings and not parsed.section_errors  # the compiled path never has them
    purchase = parsed.sections.get("purchase")
    return (_SDK.events(parsed, KINDS, tracked_via="ecommerce"),
            purchase.action_field.id if purchase is not None else None, parsed.dropped)


def _agree(event: str, params: dict[str, Any], strict: bool) -> bool:
    """Whether the compiled path converted ``params``; if so, it gave the model's events."""
    compiled = _compiled(event, params, strict)
    if compiled is None:
        return False
    whole, transaction, dropped = _by_model(event, params, strict)
    split = [e for found in compiled.events.values() for e in found]
    assert [(e.event_type, list(e.properties_dict().items())) for e in split] == [
        (e.event_type, list(e.properties.items())) for e in whole]  # property order included
    assert (compiled.transaction, compiled.dropped) == (transaction, dropped)
    ids, ids_json = {"cookie": "c"}, '{"cookie": "c"}'
    for a, b in zip(whole, split, strict=True):
        assert type(b) is SplitEvent
        assert encode_command_split(ids, ids_json, b.event_type, "1.5", b) == encode_command(
            ids, ids_json, a.event_type, "1.5", a.properties_dict())
    return True


@_MODES
@settings(max_examples=300)
@given(data=st.data())
def test_the_compiled_mapping_agrees_with_the_model(strict: bool, data: st.DataObject) -> None:
    event = data.draw(st.sampled_from(_COMPILED))
    _agree(event, data.draw(event_params(event, dirty=data.draw(st.booleans()))), strict)


@_MODES
@settings(max_examples=100)
@given(data=st.data())
def test_clean_events_convert_on_the_compiled_path(strict: bool, data: st.DataObject) -> None:
    event = data.draw(st.sampled_from(_COMPILED))
    assert _agree(event, data.draw(event_params(event, dirty=False)), strict)


def test_the_list_shared_keys_and_a_refunds_type_land_where_the_model_puts_them() -> None:
    items = [{"item_id": "P1", "item_list_name": "Search", "coupon": "LINE", "quantity": 1},
             {"item_id": "P2", "item_list_name": "Other", "item_category": "A",
              "item_category2": "B", "index": 0}]
    for event, params in [
        ("select_item", {"items": items}),  # click: the first item's list is the action's
        ("view_item", {"item_list_name": "Home", "items": items}),  # the event's list wins
        ("view_item_list", {"item_list_name": "Home", "items": items}),  # an item's list wins
        ("purchase", {"transaction_id": "T1", "coupon": "ORDER", "value": 1, "tax": 2,
                      "shipping": 3, "currency": "EUR", "items": items}),  # coupon in both parts
        ("refund", {"transaction_id": "T1", "items": items}),
        ("refund", {"transaction_id": "T1"}),  # no products: a full refund
        ("begin_checkout", {"items": items, "payment_type": "card"}),  # a key it drops
        ("add_shipping_info", {"items": items, "shipping_tier": "Ground"}),  # step 2, option
    ]:
        for strict in (False, True):
            assert _agree(event, params, strict), (event, params)
    click = _compiled("select_item", {"items": items}, False)
    assert [e.item for e in click.events["click"]][1] == {"product_id": "P2",
                                                         "category": "A/B", "position": 1}
    assert click.dropped == ("items[1].item_list_name",)  # the first one's is the action's
    assert click.events["click"][0].shared.properties["list"] == "Search"


@pytest.mark.parametrize(("event", "params"), [
    ("view_promotion", {"items": [{"item_id": "A"}]}),  # promotions: the model's path
    ("no_such_event", {"items": [{"item_id": "A"}]}),
    ("add_to_cart", {"items": [{"item_id": "A", "price": "n/a"}]}),  # a value to drop
    ("add_to_cart", {"items": [{"item_id": "A", "index": -1}]}),  # a negative index
    ("add_to_cart", {"items": [{"price": 1}]}),  # neither id nor name
    ("add_to_cart", {"items": ["A"]}),
    ("purchase", {"value": 1, "items": [{"item_id": "A"}]}),  # no transaction id
    ("add_to_cart", ["not", "params"]),
])
def test_what_the_plan_cannot_read_gives_none(event: str, params: Any) -> None:
    assert _compiled(event, params, strict=False) is None


_EVENT_NAMES = st.one_of(st.sampled_from([*ga4.EVENTS, *ga4.UNSUPPORTED_EVENTS]),
                         st.sampled_from([" purchase ", "", "  ", "gtm.click", "purchase"]),
                         st.integers(), st.none())
_PUSHES = st.fixed_dictionaries(
    {"event": _EVENT_NAMES},
    optional={"ecommerce": st.one_of(
        st.none(), st.just({}), st.just([]),
        st.fixed_dictionaries({}, optional={
            "items": st.lists(st.fixed_dictionaries({"item_id": CLEAN_TEXT}), max_size=2),
            "purchase": st.just({"actionField": {"id": "T1"}}),
            "transaction_id": CLEAN_TEXT, "value": st.just(3)})),
        "0": st.sampled_from(["event", "config", "x"])})


@settings(max_examples=300)
@given(push=_PUSHES, forced=st.booleans())
def test_the_pushes_taken_as_ga4_events_are_those_read_as_ga4(push: dict[str, Any],
                                                              forced: bool) -> None:
    found = ga4_params(push, forced=forced)
    if found is None:
        return
    event, params = found
    assert params is push["ecommerce"]
    if not forced:
        assert detect_source(push) == "ga4"
    try:
        read = read_push(push, source="ga4")
    except EcommerceError:
        with pytest.raises(EcommerceError):
            ga4.read_event(event, params)
        return
    assert read == ga4.read_event(event, params)
