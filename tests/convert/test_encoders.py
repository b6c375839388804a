"""Each encoder gives the bytes ``json.dumps`` gives; a split event's line is its whole event's;
``object_json`` is ``dumps`` for any shape of keys and any values its shape code meets later."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ga_ee_bridge.convert import encoders
from ga_ee_bridge.convert.encoders import encode_command, encode_command_split, object_json
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
            stamp = None if seconds is None else repr(seconds)
            line = encode_command_split(IDS, IDS_JSON, event.event_type, stamp, event)
            assert line == encode_command(IDS, IDS_JSON, event.event_type, stamp, whole)
            assert line == _expected(event.event_type, seconds, whole)


def test_the_shared_part_is_encoded_once_and_every_shape_joins() -> None:
    shared = Shared({"tracked_via": "x", "currency_code": "EUR"})
    lines = [encode_command_split(IDS, IDS_JSON, "e", "1.5", SplitEvent("e", shared, item))
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


class _Float(float):
    """json writes ``float.__repr__`` of a subclass, never its own ``repr``."""

    def __repr__(self) -> str:
        return "a float"


class _Int(int):
    """json writes ``int.__repr__`` of a subclass, never its own ``str`` or ``format``."""

    def __format__(self, spec: str) -> str:
        return "an int"

    def __repr__(self) -> str:
        return "an int"

    __str__ = __repr__


_VALUES = st.one_of(
    st.text(), st.sampled_from(["", "\x7f", "é", "\"{}\\", "\U0001f600"]),
    st.integers(), st.integers(min_value=2**63), st.booleans(), st.none(),
    st.builds(_Float, st.floats()), st.builds(_Int, st.integers()),
    st.floats(), st.sampled_from([0.0, -0.0, 1e-7, 1e16, 1e300, math.inf, -math.inf, math.nan]),
    st.lists(st.integers() | st.text(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers() | st.floats(allow_nan=False), max_size=2),
)
#: Few keys, so that shapes come back with values of other types (the shape code's checks).
_KEYS = st.sampled_from(["product_id", "price", "quantity", 'a "quoted" {key}', "é", "x\\y"])


def _json_or_error(value: dict[Any, Any]) -> str | type[Exception]:
    try:
        return json.dumps(value, allow_nan=False)
    except (ValueError, TypeError) as err:
        return type(err)


@settings(max_examples=400)
@given(objects=st.lists(st.dictionaries(_KEYS, _VALUES, max_size=6), min_size=1, max_size=4))
def test_object_json_is_dumps_for_any_shape_and_any_later_values(
    objects: list[dict[str, Any]],
) -> None:
    for value in objects:
        expected = _json_or_error(value)
        if isinstance(expected, str):
            assert object_json(value) == expected
            assert object_json(value, '{"shared": 1, ') == '{"shared": 1, ' + expected[1:]
        else:
            with pytest.raises(expected):
                object_json(value)


def test_keys_json_would_convert_and_shapes_past_the_bound_are_dumps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    odd: dict[Any, Any] = {1: "a", False: 2.5, None: [1], 2.5: "b"}
    assert object_json(odd) == json.dumps(odd)
    monkeypatch.setattr(encoders, "_MAX_SHAPES", len(encoders._SHAPES))
    fresh = {"a key seen by no other test": 1.25, "and another": "v"}
    assert object_json(fresh) == json.dumps(fresh)
    assert object_json(fresh, "") == json.dumps(fresh)[1:]
    assert tuple(fresh) not in encoders._SHAPES
