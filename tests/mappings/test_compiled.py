"""The compiled sdk mapping gives exactly the model's events and dropped paths, or gives up.

The model's path (reader, then mapping) is the definition; the compiled one must agree on every
object it converts itself, in both modes, dirty and corrupted objects included, and it must convert
the clean objects shops push (else it is no fast path).
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ga_ee_bridge as gee
from ga_ee_bridge import mappings
from ga_ee_bridge.core.model import KINDS
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.mappings import MAPPINGS
from ga_ee_bridge.mappings.compiled import SplitEvent, compile_ua
from ga_ee_bridge.readers import ua
from ga_ee_bridge.testing import strategies as gst

_MODES = pytest.mark.parametrize("strict", [False, True])


def _by_model(obj: dict[str, Any], strict: bool, tracked_via: str = "ecommerce") -> Any:
    """What reading the model and mapping it give: events per kind, transaction, dropped."""
    try:
        parsed = ua.read_ecommerce(obj, strict=strict)
        events = {kind: MAPPINGS["sdk"].events(parsed, (kind,), tracked_via=tracked_via)
                  for kind in KINDS if kind in parsed.sections}
    except EcommerceError:
        return None
    if parsed.warnings or parsed.section_errors:
        return None  # the compiled path never gives these: it gives up
    purchase = parsed.sections.get("purchase")
    return events, purchase.action_field.id if purchase else None, parsed.dropped


def _compiled(obj: dict[str, Any], strict: bool, tracked_via: str = "ecommerce",
              split: bool = False) -> Any:
    events = compile_ua(MAPPINGS["sdk"], tracked_via=tracked_via, strict=strict, split=split)
    assert events is not None
    return events(obj)


def _shown(events: dict[str, Any]) -> dict[str, Any]:
    return {kind: [(e.event_type, list(e.properties.items()), e.timestamp) for e in found]
            for kind, found in events.items()}


def _agrees_where_compiled(obj: dict[str, Any], strict: bool) -> None:
    """Where the compiled path converts ``obj``, it gives the model's events (property order
    included), transaction and dropped paths."""
    compiled = _compiled(obj, strict)
    if compiled is not None:
        expected = _by_model(obj, strict)
        assert expected is not None
        events, transaction, dropped = expected
        assert _shown(compiled.events) == _shown(events)
        assert (compiled.transaction, compiled.dropped) == (transaction, dropped)


@_MODES
@settings(max_examples=150)
@given(data=st.data())
def test_the_compiled_mapping_agrees_with_the_model(strict: bool, data: st.DataObject) -> None:
    obj = data.draw(st.one_of(
        gst.ecommerce(dirty=True), gst.ecommerce(dirty=False),
        gst.corrupted(dirty=False).map(lambda pair: pair[0]).filter(
            lambda obj: type(obj) is dict),
    ))
    _agrees_where_compiled(obj, strict)


@_MODES
@settings(max_examples=60)
@given(obj=gst.ecommerce(dirty=False))
def test_clean_objects_convert_on_the_compiled_path(strict: bool, obj: dict[str, Any]) -> None:
    compiled = _compiled(obj, strict, tracked_via="backend")
    expected = _by_model(obj, strict, tracked_via="backend")
    assert compiled is not None and expected is not None
    assert _shown(compiled.events) == _shown(expected[0])


def test_unknown_keys_and_shared_names_land_where_the_model_puts_them() -> None:
    obj = {"currencyCode": "eur", "sku": 1, "purchase": {
        "actionField": {"id": "T1", "coupon": "ORDER", "x": 1}, "y": 2,
        "products": [{"id": "P1", "coupon": "LINE", "dimension2": " L ", "z": 3},
                     {"name": "N", "metric1": "2", "dimension3": ""}]}}
    compiled = _compiled(obj, strict=False)
    assert compiled is not None
    assert compiled.dropped == ("sku", "purchase.y", "purchase.actionField.x",
                                "purchase.products[0].z")
    first = compiled.events["purchase"][0].properties
    assert list(first) == ["tracked_via", "currency_code", "transaction_id", "coupon",
                           "product_id", "dimension2"]
    assert (first["coupon"], first["dimension2"]) == ("LINE", "L")
    assert compiled.events["purchase"][1].properties["metric1"] == 2.0
    assert compiled.events["purchase"][2].properties["coupon"] == "ORDER"
    assert _shown(compiled.events) == _shown(_by_model(obj, strict=False)[0])


def _split_shown(events: dict[str, Any]) -> dict[str, Any]:
    return {kind: [(e.event_type, list(e.properties_dict().items()), None) for e in found]
            for kind, found in events.items()}


@_MODES
@settings(max_examples=150)
@given(data=st.data())
def test_split_events_are_the_events_in_two_parts(strict: bool, data: st.DataObject) -> None:
    obj = data.draw(st.one_of(gst.ecommerce(dirty=True), gst.ecommerce(dirty=False)))
    whole, split = _compiled(obj, strict), _compiled(obj, strict, split=True)
    assert (whole is None) == (split is None)
    if whole is not None:
        assert _split_shown(split.events) == _shown(whole.events)  # property order included
        assert (split.transaction, split.dropped) == (whole.transaction, whole.dropped)
        for found in split.events.values():
            for event in found:
                assert type(event) is SplitEvent
                if event.item is not None:  # the parts never share a key
                    assert event.shared.properties.keys().isdisjoint(event.item)


def test_a_key_in_both_parts_is_merged_where_the_model_puts_it() -> None:
    obj = {"currencyCode": "EUR", "purchase": {
        "actionField": {"id": "T1", "coupon": "ORDER"},
        "products": [{"id": "P1", "coupon": "LINE"}, {"id": "P2"}]}}
    events = _compiled(obj, strict=False, split=True).events["purchase"]
    assert events[0].item is None  # merged: "coupon" keeps the order's place, the line's value
    assert list(events[0].properties_dict()) == ["tracked_via", "currency_code",
                                                 "transaction_id", "coupon", "product_id"]
    assert events[0].properties_dict()["coupon"] == "LINE"
    assert events[1].item == {"product_id": "P2"}
    assert events[1].shared is events[2].shared  # the second item and the summary share it


def test_a_refunds_type_is_its_summarys_only() -> None:
    obj = {"refund": {"actionField": {"id": "T1"}, "products": [{"id": "P1", "quantity": 1}]}}
    item, summary = _compiled(obj, strict=False, split=True).events["refund"]
    assert "refund_type" not in item.properties_dict()
    assert summary.properties_dict()["refund_type"] == "partial"
    assert _split_shown({"refund": [item, summary]}) == _shown(
        _compiled(obj, strict=False).events)


@pytest.mark.parametrize("mapping", ["sdk-exact", "bloomreach"])
def test_only_typed_taxonomy_mappings_compile(mapping: str) -> None:
    assert compile_ua(MAPPINGS[mapping], tracked_via="x", strict=False) is None


def test_what_the_plan_cannot_read_gives_none() -> None:
    assert _compiled({"add": {"products": [{"id": "P1", "price": "n/a"}]}}, strict=False) is None
    assert _compiled({"detail": {"id": "P1"}}, strict=False) is None
    too_many = {f"dimension{n}": "x" for n in range(1, 300)}
    assert _compiled({"add": {"products": [{"id": "P1", **too_many}]}}, strict=False) is None


def _model_only() -> Any:
    return mock.patch.object(mappings, "compile_ua", lambda *_, **__: None)


@settings(max_examples=100)
@given(case=gst.cases(push=None), kind=st.sampled_from(["all", *KINDS]), strict=st.booleans())
def test_to_exponea_events_gives_what_the_model_gives(
    case: gst.EcommerceCase, kind: str, strict: bool
) -> None:
    def convert() -> Any:
        try:
            events = gee.to_exponea_events(case.ecommerce, kind, strict=strict)
        except EcommerceError as err:
            return err.messages
        return _shown({"": list(events)}), events.dropped, events.warnings, events.section_errors

    fast = convert()
    with _model_only():
        assert convert() == fast


_EXTRA_KEYS = st.dictionaries(
    st.sampled_from(["dimension1", "dimension12", "metric1", "metric3", "sku", "x"]),
    st.one_of(st.none(), st.text(max_size=3), st.integers(-3, 3),
              st.sampled_from(["", " ", " 2.5 ", "n/a", "7"])),
    max_size=4)


@_MODES
@settings(max_examples=200)
@given(data=st.data())
def test_lists_of_one_shape_convert_as_the_model_does(strict: bool, data: st.DataObject) -> None:
    # The objects of a list share their keys: a reader is compiled for the first one's, and
    # every object with other keys (one more, one less, one another, the same in another order)
    # is read as any other. Values differ from object to object.
    pool = data.draw(gst.products(dirty=True, max_size=6).filter(lambda found: len(found) > 2))
    first = {**pool[0], **data.draw(_EXTRA_KEYS)}
    keys = list(first)
    products = []
    for product in pool:
        same = {key: product.get(key, first[key]) for key in keys}
        change = data.draw(st.sampled_from(["same", "same", "reversed", "more", "fewer",
                                            "swapped"]))
        if change == "reversed":
            same = dict(reversed(list(same.items())))
        elif change == "more":
            same["dimension7"] = "more"
        elif change == "fewer" and len(keys) > 1:
            same.pop(keys[-1])
        elif change == "swapped":  # as many keys, one of them another
            same.pop(keys[-1])
            same["dimension8"] = "swapped"
        products.append(same)
    kind = data.draw(st.sampled_from(["impressions", "detail", "add", "purchase", "refund"]))
    section: Any = products if kind == "impressions" else {
        "actionField": {"id": "T1"}, "products": products}
    obj = {"currencyCode": "EUR", kind: section}
    _agrees_where_compiled(obj, strict)


def test_a_list_of_one_shape_is_read_by_a_reader_of_its_own() -> None:
    from ga_ee_bridge.readers import _plan

    products = [{"id": f"P{n}", "price": f"{n}.5", "dimension2": f" d{n} ", "metric1": n,
                 "sku": "s"} for n in range(3)]
    products.append({"metric1": 9, "id": "P9", "sku": "s", "dimension2": "x", "price": "1"})
    obj = {"add": {"products": products}}
    compiled = _compiled(obj, strict=False)
    assert compiled is not None
    assert _shown(compiled.events) == _shown(_by_model(obj, strict=False)[0])
    assert compiled.dropped == tuple(f"add.products[{n}].sku" for n in range(4))
    last = compiled.events["add"][3].properties
    assert list(last)[-2:] == ["metric1", "dimension2"]  # the pushed order, not the first's
    shaped = [reader_for(products[0]) for reader_for in _plan.SHAPED.values()]
    assert any(reader.__qualname__.startswith("compiled[") for reader in shaped)
