"""Each encoder gives the bytes ``json.dumps`` gives; a split event's line is its whole event's."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ga_ee_bridge.convert.encoders import encode_command, encode_command_split
from ga_ee_bridge.mappings import MAPPINGS
from ga_ee_bridge.mappings.compiled import Shared, SplitEvent, compile_ua
from ga_ee_bridge.testing import strategies as gst

IDS = {"registered": "a@example.com"}
IDS_JSON = json.dumps(IDS)


def _expected(event_type: str, seconds: float | None, properties: dict[str, Any]) -> str:
    data: dict[str, Any] = {"customer_ids": IDS, "event_type": event_type}
    if seconds is not None:
        data["timestamp"] = seconds
    data["properties"] = properties
    return json.dumps({"name": "customers/events", "data": data}, allow_nan=False) + "\n"


@settings(max_examples=150)
@given(obj=gst.ecommerce(dirty=True), strict=st.booleans(),
       seconds=st.none() | st.floats(0, 4e9, allow_nan=False))
def test_a_split_events_line_is_its_whole_events(
    obj: dict[str, Any], strict: bool, seconds: float | None
) -> None:
    events = compile_ua(MAPPINGS["sdk"], tracked_via="ecommerce", strict=strict, split=True)
    assert events is not None
    compiled = events(obj)
    if compiled is None:
        return
    for found in compiled.events.values():
        for event in found:
            whole = event.properties_dict()
            line = encode_command_split(IDS, IDS_JSON, event.event_type, seconds, event)
            assert line == encode_command(IDS, IDS_JSON, event.event_type, seconds, whole)
            assert line == _expected(event.event_type, seconds, whole)


def test_the_shared_part_is_encoded_once_and_every_shape_joins() -> None:
    shared = Shared({"tracked_via": "x", "currency_code": "EUR"})
    lines = [encode_command_split(IDS, IDS_JSON, "e", 1.5, SplitEvent("e", shared, item))
             for item in ({"product_id": "P1", "price": 2.5}, {}, None)]
    assert shared.json == '{"tracked_via": "x", "currency_code": "EUR"}'
    assert lines == [_expected("e", 1.5, {"tracked_via": "x", "currency_code": "EUR",
                                          "product_id": "P1", "price": 2.5}),
                     _expected("e", 1.5, shared.properties), _expected("e", 1.5,
                                                                       shared.properties)]
    empty = Shared({})
    assert encode_command_split(IDS, IDS_JSON, "e", None, SplitEvent("e", empty, {"a": 1})) == (
        _expected("e", None, {"a": 1}))


@pytest.mark.parametrize("shared, item", [({"a": math.nan}, {"b": 1}), ({"a": 1}, {"b": math.inf})])
def test_what_json_cannot_carry_is_refused_in_either_part(
    shared: dict[str, Any], item: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        encode_command_split(IDS, IDS_JSON, "e", None, SplitEvent("e", Shared(shared), item))

