"""Property tests of the reader and both mappings, over objects from ``ga_ee_bridge.testing.strategies``.

The expected events are computed here from the reference (exponea.md section 1), from the clean
values each generated object stands for (``case.intended``), not from the library's own tables.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

import ga_ee_bridge as gee
from ga_ee_bridge.errors import SdkThrewError
from ga_ee_bridge.readers import _schema as base
from ga_ee_bridge.readers import ua
from ga_ee_bridge.readers._plan import Slow
from ga_ee_bridge.testing import strategies as gst

# --- the reference, written out independently of the mapping code --------------------------------

# kind -> (event per item, summary event), exponea.md section 1.
EVENTS = {
    "impressions": ("product_impression", None),
    "click": ("product_click", None),
    "detail": ("product_detail", None),
    "add": ("product_add_to_cart", None),
    "remove": ("product_remove_from_cart", None),
    "promoView": ("promo_impression", None),
    "promoClick": ("promo_click", None),
    "checkout": ("product_checkout", "checkout"),
    "checkout_option": (None, "checkout_option"),
    "purchase": ("product_purchase", "transaction"),
    "refund": ("product_refund", "refund"),
}
ACTION_FIELD = (
    ("id", "transaction_id"), ("affiliation", "affiliation"), ("revenue", "revenue"),
    ("tax", "tax"), ("shipping", "shipping"), ("coupon", "coupon"), ("list", "list"),
    ("step", "step"), ("option", "option"),
)
PRODUCT = (
    ("id", "product_id"), ("name", "name"), ("brand", "brand"), ("category", "category"),
    ("variant", "variant"), ("price", "price"), ("quantity", "quantity"), ("coupon", "coupon"),
    ("position", "position"),
)
IMPRESSION = (
    ("id", "product_id"), ("name", "name"), ("price", "price"), ("brand", "brand"),
    ("category", "category"), ("variant", "variant"), ("list", "list"), ("position", "position"),
)
PROMOTION = (
    ("id", "promo_id"), ("name", "name"), ("creative", "creative"), ("position", "position"),
)
PROMO_KINDS = ("promoView", "promoClick")
CUSTOM = re.compile(r"(dimension|metric)[1-9][0-9]*")
FLOATS = {"price", "revenue", "tax", "shipping"}
INTS = {"quantity", "step"}
TEXTS = {
    "tracked_via", "currency_code", "transaction_id", "product_id", "promo_id", "name", "brand",
    "category", "variant", "coupon", "list", "option", "affiliation", "creative", "refund_type",
}
MAPPINGS = ("sdk", "sdk-exact")
TRACKED_VIA = {"sdk": "ecommerce", "sdk-exact": "eecommerce"}


def items_of(intended: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """The products, impressions or promotions of a section of an intended object."""
    section = intended[kind]
    if kind == "impressions":
        return list(section)
    return list(section.get("promotions" if kind in PROMO_KINDS else "products", []))


def expected_types(intended: Mapping[str, Any], kinds: tuple[str, ...]) -> list[str]:
    """Event types, in send order, that ``intended`` must yield for ``kinds``."""
    types: list[str] = []
    for kind in kinds:
        if kind not in intended:
            continue
        item_event, summary = EVENTS[kind]
        if item_event:
            types += [item_event] * len(items_of(intended, kind))
        if summary:
            types.append(summary)
    return types


def expected_sdk(intended: Mapping[str, Any], tracked_via: str = "ecommerce") -> list[
    tuple[str, dict[str, Any]]
]:
    """(event type, properties) of the ``sdk`` mapping, built from the reference rules."""
    events: list[tuple[str, dict[str, Any]]] = []
    start: dict[str, Any] = {"tracked_via": tracked_via}
    if "currencyCode" in intended:
        start["currency_code"] = intended["currencyCode"]
    for kind in gee.KINDS:
        if kind not in intended:
            continue
        item_event, summary = EVENTS[kind]
        base = dict(start)
        if kind != "impressions" and kind not in PROMO_KINDS:
            action_field = intended[kind].get("actionField", {})
            base.update((name, action_field[k]) for k, name in ACTION_FIELD if k in action_field)
        table = (
            IMPRESSION if kind == "impressions" else PROMOTION if kind in PROMO_KINDS else PRODUCT
        )
        for item in items_of(intended, kind) if item_event else []:
            properties = dict(base)
            properties.update((name, item[key]) for key, name in table if key in item)
            properties.update((key, value) for key, value in item.items() if CUSTOM.fullmatch(key))
            events.append((item_event, properties))
        if summary:
            if kind == "refund":
                base["refund_type"] = "partial" if intended[kind].get("products") else "full"
            events.append((summary, base))
    return events


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def command_problems(command: Any, *, flat: bool = True) -> list[str]:
    """What makes ``command`` an invalid Tracking API batch command (exponea.md section 2-3).

    ``flat=False`` also accepts lists and objects as values (the API keeps them; ``sdk-exact``
    sends them as pushed, as the web SDK does).
    """
    problems: list[str] = []
    try:
        json.dumps(command, allow_nan=False)
    except (TypeError, ValueError) as err:
        problems.append(f"not JSON: {err}")
    if not isinstance(command, dict) or set(command) - {"name", "data", "command_id"}:
        return [*problems, f"not a command object: {command!r}"]
    if command.get("name") != "customers/events":
        problems.append(f"name: {command.get('name')!r}")
    data = command.get("data")
    if not isinstance(data, dict):
        return [*problems, "data: not an object"]
    ids = data.get("customer_ids")
    if not isinstance(ids, dict) or not ids:
        problems.append("customer_ids: empty or not an object")
    else:
        for name, value in ids.items():
            if not (isinstance(value, str) and value.strip()) and not is_number(value):
                problems.append(f"customer_ids.{name}: {value!r}")
    if not isinstance(data.get("event_type"), str) or not data["event_type"]:
        problems.append(f"event_type: {data.get('event_type')!r}")
    if "timestamp" in data and not (
        isinstance(data["timestamp"], float) and math.isfinite(data["timestamp"])
    ):
        problems.append(f"timestamp: {data['timestamp']!r}")
    properties = data.get("properties")
    if not isinstance(properties, dict):
        return [*problems, "properties: not an object"]
    if len(properties) > 255:
        problems.append(f"properties: {len(properties)} > 255")
    for key, value in properties.items():
        if not isinstance(key, str) or not key or not key.isascii():
            problems.append(f"property name {key!r}")
        if flat and not (value is None or isinstance(value, str | bool) or is_number(value)):
            problems.append(f"properties.{key}: not a JSON scalar: {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"properties.{key}: {value!r}")
    return problems


def test_command_problems_sees_bad_commands() -> None:
    good = gee.TrackEvent("x", {"a": 1}).to_command({"registered": "a@b.c"}, timestamp=1.0)
    assert command_problems(good) == []
    bad: list[Any] = [
        {**good, "name": "customers"},
        {**good, "data": {**good["data"], "customer_ids": {}}},
        {**good, "data": {**good["data"], "event_type": ""}},
        {**good, "data": {**good["data"], "timestamp": 1}},
        {**good, "data": {**good["data"], "properties": {"a": [1]}}},
        {**good, "data": {**good["data"], "properties": {"č": 1}}},
        {**good, "data": {**good["data"], "properties": {str(i): i for i in range(256)}}},
        {**good, "data": {**good["data"], "properties": {"a": math.nan}}},
    ]
    for command in bad:
        assert command_problems(command), command


# --- properties -----------------------------------------------------------------------------------

@given(gst.cases(push=None))
def test_one_event_per_item_and_one_summary_last_in_section_order_in_both_mappings(
    case: gst.EcommerceCase,
) -> None:
    # sdk-exact does not repair dirty shapes (the web SDK does not): see test_sdk_exact_properties
    events = gee.to_exponea_events(case.ecommerce)
    assert [event.event_type for event in events] == expected_types(case.intended, gee.KINDS)
    for kind in gee.KINDS:
        one = gee.to_exponea_events(case.ecommerce, kind)
        assert [event.event_type for event in one] == expected_types(case.intended, (kind,))


@given(gst.cases(), st.sampled_from(MAPPINGS), st.none() | st.text(min_size=1, max_size=10))
def test_every_event_carries_tracked_via(
    case: gst.EcommerceCase, mapping: str, override: str | None
) -> None:
    try:
        events = gee.to_exponea_events(case.ecommerce, mapping=mapping, tracked_via=override)
    except SdkThrewError as threw:  # sdk-exact, where the web SDK throws: what it sent first
        events = threw.events
    want = override or TRACKED_VIA[mapping]
    assert all(event.properties["tracked_via"] == want for event in events)
    assert all(next(iter(event.properties)) == "tracked_via" for event in events)


@given(gst.cases(push=None))
def test_sdk_events_are_the_reference_rules_applied_to_the_intended_values(
    case: gst.EcommerceCase,
) -> None:
    events = gee.to_exponea_events(case.ecommerce)
    got = [(event.event_type, dict(event.properties)) for event in events]
    want = expected_sdk(case.intended)
    assert got == want
    assert [list(properties) for _, properties in got] == [list(p) for _, p in want]
    # only the keys the strategies add as unknown are reported dropped, nothing the object holds
    unknown = {"sku", "currency", "variantId", "stocklevel", "event", "currecyCode", "items"}
    assert {path.rpartition(".")[2] for path in events.dropped} <= unknown


@given(gst.cases())
def test_sdk_values_have_the_types_of_the_table(case: gst.EcommerceCase) -> None:
    for event in gee.to_exponea_events(case.ecommerce):
        promo = event.event_type.startswith("promo_")
        for key, value in event.properties.items():
            if key in FLOATS or key.startswith("metric"):
                assert type(value) is float, (key, value)
            elif key in INTS or (key == "position" and not promo):
                assert type(value) is int, (key, value)
            elif key in TEXTS or key.startswith("dimension") or key == "position":
                assert type(value) is str and value == value.strip() and value, (key, value)
            else:
                pytest.fail(f"unexpected property {key!r} on {event.event_type}")


@given(gst.cases(["purchase", "checkout", "add", "refund"]))
def test_totals_survive(case: gst.EcommerceCase) -> None:
    events = gee.to_exponea_events(case.ecommerce)
    got = [
        (e.properties.get("price"), e.properties.get("quantity"))
        for e in events if e.event_type.startswith("product_")
    ]
    want = [
        (item.get("price"), item.get("quantity"))
        for kind in ("add", "checkout", "purchase", "refund")
        for item in items_of(case.intended, kind)
    ]
    assert got == want
    total = math.fsum(p * q for p, q in got if p is not None and q is not None)
    intended_total = math.fsum(p * q for p, q in want if p is not None and q is not None)
    assert math.isclose(total, intended_total, rel_tol=1e-12, abs_tol=1e-9)


@given(gst.cases(["purchase", "impressions"], push=None, dirty=False))
def test_zeros_are_kept_in_sdk_and_dropped_in_sdk_exact(case: gst.EcommerceCase) -> None:
    raw = case.ecommerce.get("ecommerce", case.ecommerce)
    raw_items: list[Any] = []
    for kind, key in (("impressions", None), ("purchase", "products")):
        section = raw[kind] if key is None else raw[kind].get(key, [])
        raw_items += [section] if isinstance(section, dict) else section
    sdk = [e for e in gee.to_exponea_events(raw) if e.event_type.startswith("product_")]
    exact = [
        e for e in gee.to_exponea_events(raw, mapping="sdk-exact")
        if e.event_type.startswith("product_")
    ]
    intended = items_of(case.intended, "impressions") + items_of(case.intended, "purchase")
    assert len(sdk) == len(exact) == len(intended) == len(raw_items)
    for typed, pushed, sdk_event, exact_event in zip(intended, raw_items, sdk, exact, strict=True):
        for key in ("price", "quantity", "position"):
            if typed.get(key) == 0:
                assert sdk_event.properties[key] == 0
            if key in pushed and pushed[key] == 0 and is_number(pushed[key]):
                assert key not in exact_event.properties
            elif key in pushed and isinstance(pushed[key], str) and pushed[key]:
                assert exact_event.properties[key] == pushed[key]  # "0.00" is truthy in JS


@given(
    gst.cases(push=None),
    st.sampled_from(MAPPINGS),
    st.dictionaries(
        st.sampled_from(("registered", "cookie", "email_id")),
        st.text(min_size=1, max_size=8).filter(str.strip) | st.integers(1, 10**9),
        min_size=1,
    ),
    st.floats(0, 4e9),
)
def test_output_is_json_and_valid_tracking_api_commands(
    case: gst.EcommerceCase, mapping: str, ids: dict[str, Any], timestamp: float
) -> None:
    try:
        events = gee.to_exponea_events(case.ecommerce, mapping=mapping)
    except SdkThrewError as threw:  # sdk-exact, where the web SDK throws: what it sent first
        events = threw.events
    for event in events:
        command = event.to_command(ids, timestamp=timestamp)
        assert command_problems(command, flat=mapping == "sdk") == []
        assert json.loads(json.dumps(command)) == command


@given(gst.corrupted(push=None))
def test_a_corrupted_payload_is_reported_at_the_corrupted_path(bad: tuple[Any, str]) -> None:
    """Lenient: an error naming the path when nothing else converts, else a section error or a
    warning (an unreadable value left out) naming it; never silence."""
    obj, path = bad
    try:
        events = gee.to_exponea_events(obj)
    except gee.EcommerceError as err:
        reported = err.paths
        assert str(err).startswith(f"{reported[0]}: ")
    else:
        warned = [w.path for w in events.warnings]
        reported = warned + [p for _, error in events.section_errors for p in error.paths]
    # One report: at the path, or at the item holding it when the item is left without an id or
    # a name (``{"name": []}``: the unreadable name is dropped, and the product with it).
    assert len(reported) == 1
    assert path == reported[0] or path.startswith((reported[0] + ".", reported[0] + "["))


@given(gst.corrupted(dirty=False))
def test_strict_mode_names_the_corrupted_path_too(bad: tuple[Any, str]) -> None:
    obj, path = bad
    with pytest.raises(gee.EcommerceError) as info:
        gee.parse_ecommerce(obj, strict=True)
    assert path in info.value.paths


@given(gst.cases(dirty=False, push=None))
def test_strict_mode_accepts_every_clean_object_and_reads_it_as_lenient_mode_does(
    case: gst.EcommerceCase,
) -> None:
    assert gee.parse_ecommerce(case.ecommerce, strict=True) == gee.parse_ecommerce(case.ecommerce)


@given(gst.cases(push=None))
def test_strict_mode_reads_dirty_objects_as_lenient_mode_does_or_refuses_them(
    case: gst.EcommerceCase,
) -> None:
    try:
        strict = gee.parse_ecommerce(case.ecommerce, strict=True)
    except gee.EcommerceError as err:
        assert err.paths
    else:
        assert strict == gee.parse_ecommerce(case.ecommerce)


@given(gst.cases(push=None))
def test_a_dirty_object_or_push_converts_as_its_clean_form_does(case: gst.EcommerceCase) -> None:
    dirty = gee.to_exponea_events(case.ecommerce)
    clean = gee.to_exponea_events(case.intended, strict=True)
    assert dirty == clean
    assert clean.dropped == ()


def _no_fast_path(self: Any, data: Any) -> Any:
    raise ValidationError("fast path switched off")


def _no_plan(schema: Any) -> Any:
    """The compiled plan switched off (tests/readers/test_plan.py compares it with the schemas)."""
    def give_up(*_: Any) -> Any:
        raise Slow("plan switched off")
    return give_up


def _schemas_only() -> Any:
    return mock.patch.object(ua, "compiled_plan", _no_plan)


@given(gst.cases(push=None))
def test_fast_path_and_marshmallow_full_load_read_the_same_model(case: gst.EcommerceCase) -> None:
    for strict in (False, True):
        try:
            with _schemas_only():
                fast = gee.parse_ecommerce(case.ecommerce, strict=strict)
        except gee.EcommerceError as err:
            fast_error: Any = err.messages
        else:
            fast_error = None
        with mock.patch.object(base.BaseSchema, "_fast_load", _no_fast_path), _schemas_only():
            try:
                full = gee.parse_ecommerce(case.ecommerce, strict=strict)
            except gee.EcommerceError as err:
                assert fast_error == err.messages
            else:
                assert fast_error is None
                assert fast == full


def test_the_fast_path_switch_really_switches_it_off() -> None:
    calls: list[Any] = []
    original = base.BaseSchema._fast_load

    def spy(self: Any, data: Any) -> Any:
        calls.append(data)
        return original(self, data)

    with mock.patch.object(base.BaseSchema, "_fast_load", spy), _schemas_only():
        gee.parse_ecommerce({"detail": {"products": [{"id": "1"}]}})
    assert calls
    with mock.patch.object(base.BaseSchema, "_fast_load", _no_fast_path), _schemas_only():
        parsed = gee.parse_ecommerce({"detail": {"products": [{"id": "1"}]}})
    assert parsed.sections["detail"].items[0].id == "1"


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


@given(gst.cases(dirty=False))
def test_clean_objects_hold_only_documented_shapes(case: gst.EcommerceCase) -> None:
    obj = case.ecommerce
    assert all(v is not None and not isinstance(v, bool) for v in _walk(obj))
    for kind in case.kinds:
        section = obj[kind]
        if kind == "impressions":
            items = section
        else:
            items = section.get("promotions" if kind in PROMO_KINDS else "products", [])
            assert isinstance(section.get("actionField", {}), dict)
        assert isinstance(items, list)
        for item in items:
            assert isinstance(item.get("id", ""), str)
            assert item.get("quantity", "") == "" or type(item["quantity"]) is int


_JSON_KEYS = st.sampled_from((
    *gee.KINDS, "id", "name", "price", "quantity", "position", "step", "revenue", "products",
    "promotions", "actionField", "currencyCode", "ecommerce", "metric1", "dimension2", "sku",
))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | _JSON_KEYS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_JSON_KEYS, inner, max_size=4),
    max_leaves=16,
)


@given(_JSON, st.sampled_from(MAPPINGS))
def test_any_json_value_converts_or_raises_ecommerce_error(obj: Any, mapping: str) -> None:
    try:
        events = gee.to_exponea_events(obj, mapping=mapping)
    except gee.EcommerceError as err:
        assert err.paths and str(err)
    else:
        for event in events:
            command = event.to_command({"registered": "a"}, timestamp=1.0)
            assert command_problems(command, flat=mapping == "sdk") == []
