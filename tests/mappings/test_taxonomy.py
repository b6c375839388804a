"""The taxonomy mapping's events in parts (``split=True``, what the converter encodes) are its
whole events: the same types and properties in the same order, and the same command bytes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ga_ee_bridge.convert.encoders import encode_command, encode_command_split
from ga_ee_bridge.core.model import KINDS
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.mappings import MAPPINGS
from ga_ee_bridge.mappings.taxonomy import SplitEvent
from ga_ee_bridge.readers import ga4, ua
from ga_ee_bridge.testing import strategies as gst

_SDK: Any = MAPPINGS["sdk"]
_IDS = {"registered": "a@example.com"}
_IDS_JSON = '{"registered": "a@example.com"}'


def _both(parsed: Any, kinds: tuple[str, ...] = KINDS) -> tuple[list[Any], list[Any]]:
    return (_SDK.events(parsed, kinds, tracked_via="ecommerce"),
            _SDK.events(parsed, kinds, tracked_via="ecommerce", split=True))


def _agree(whole: list[Any], split: list[Any]) -> None:
    assert [(e.event_type, list(e.properties_dict().items())) for e in split] == [
        (e.event_type, list(e.properties.items())) for e in whole]
    for n, (a, b) in enumerate(zip(whole, split, strict=True)):
        assert type(b) is SplitEvent
        if b.item is not None:
            assert b.shared.properties.keys().isdisjoint(b.item)
        seconds = 1.7e9 + n / 1000
        stamp = repr(seconds)
        assert encode_command_split(_IDS, _IDS_JSON, b.event_type, stamp, b) == (
            encode_command(_IDS, _IDS_JSON, a.event_type, stamp, a.properties_dict()))


@settings(max_examples=200)
@given(obj=st.one_of(gst.ecommerce(dirty=True), gst.ecommerce(dirty=False)))
def test_split_events_are_the_whole_events_of_ua_models(obj: dict[str, Any]) -> None:
    try:
        parsed = ua.read_ecommerce(obj, strict=False)  # custom dimensions and metrics too
    except EcommerceError:
        return
    _agree(*_both(parsed))


def test_a_shared_key_an_item_sets_again_is_merged_where_the_whole_event_has_it() -> None:
    parsed = ga4.read_event("purchase", {
        "transaction_id": "T1", "coupon": "ORDER", "currency": "EUR",
        "items": [{"item_id": "P1", "coupon": "LINE"}, {"item_id": "P2"}]})
    whole, split = _both(parsed)
    _agree(whole, split)
    assert split[0].item is None and split[0].properties_dict()["coupon"] == "LINE"
    assert split[1].item == {"product_id": "P2"}
    assert split[1].shared is split[2].shared  # the second item and the summary share theirs


def test_a_refunds_type_is_its_summarys_only() -> None:
    parsed = ga4.read_event("refund", {"transaction_id": "T1",
                                       "items": [{"item_id": "P1", "quantity": 1}]})
    whole, split = _both(parsed)
    _agree(whole, split)
    assert "refund_type" not in split[0].properties_dict()
    assert split[1].properties_dict()["refund_type"] == "partial"


@pytest.mark.parametrize("split", [False, True])
def test_too_many_properties_is_the_same_error_in_parts(split: bool) -> None:
    dims = {f"dimension{i}": "x" for i in range(1, 260)}
    parsed = ua.read_ecommerce({"add": {"products": [{"id": "a"}, {"id": "b", **dims}]}})
    with pytest.raises(EcommerceError, match=r"26\d properties") as info:
        _SDK.events(parsed, KINDS, tracked_via="ecommerce", split=split)
    assert info.value.paths == ["add.products[1]"]
