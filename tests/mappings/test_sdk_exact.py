"""``sdk-exact`` against the real web SDK v3.15.0: every case recorded in ``fixtures/sdk-exact``.

Each recorded case holds the GA ``ecommerce`` object, the kind, and what the SDK sent for it (run in
jsdom, network recorded; see fixtures/README.md): the events, and whether it threw. The mapping
must give the same event types in the same order, the same property names in the same order, and
the same values of the same JSON types (compared as JSON text, so ``15`` is not ``15.0``).
"""

from __future__ import annotations

import importlib.util
import json
import math
import pickle
from pathlib import Path
from typing import Any

import pytest
from support import REPO

from ga_ee_bridge import KINDS, to_exponea_events
from ga_ee_bridge.errors import EcommerceError, SdkThrewError
from ga_ee_bridge.mappings import MAPPINGS
from ga_ee_bridge.mappings.sdk_exact import SDK_EXACT

FOLDER = REPO / "fixtures" / "sdk-exact"
FILES = sorted(FOLDER.glob("*.json"))
CASES = [case for path in FILES for case in json.loads(path.read_text(encoding="utf-8"))]


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("sdk_cases", FOLDER / "sdk_cases.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kinds(case: dict[str, Any]) -> tuple[str, ...]:
    kind = case.get("kind", "all")  # the harness calls without a kind: the SDK's default, all
    return KINDS if kind == "all" else (kind,)


def _ecommerce(case: dict[str, Any]) -> Any:
    """The case's object; a text one is parsed (``1e400`` is inf, a repeated key keeps its last)."""
    if "ecommerce_text" in case:
        return json.loads(case["ecommerce_text"])
    return case["ecommerce"]


def _text(events: Any) -> str:
    return json.dumps([{"event_type": e.event_type, "properties": list(e.properties.items())}
                       for e in events])


def _recorded(case: dict[str, Any]) -> str:
    return json.dumps([{"event_type": e["event_type"], "properties": list(e["properties"].items())}
                       for e in case["sdk"]["events"]])


def test_the_recording_covers_every_kind_and_shape() -> None:
    assert len(CASES) >= 400
    kinds = {case.get("kind") for case in CASES}
    assert set(KINDS) | {"all", None, "Purchase", ""} <= kinds
    shapes = {case["name"].split("/")[1] for case in CASES}
    assert {"clean", "quirky", "items-object", "null-item", "section-scalar", "no-id",
            "purchase-true", "refund-products", "mixed", "unknown", "not-an-object",
            "numbers", "infinity", "odd-values", "all-throw-stops-later-sections"} <= shapes
    assert sum(bool(case["sdk"]["threw"]) for case in CASES) >= 40
    types = {e["event_type"] for case in CASES for e in case["sdk"]["events"]}
    assert len(types) == 14


def test_the_recorded_cases_are_the_generator_s() -> None:
    """The fixtures hold exactly the cases the seeded generator makes (so they can be re-made)."""
    module = _generator()
    generated = {case["name"]: case for case in module.cases() + module.reproducers()}
    recorded = [case for case in CASES if not case["name"].startswith("ua-fixtures/")]
    assert len(recorded) == len(generated)
    for case in recorded:
        want = generated[case["name"]]
        key = "ecommerce_text" if "ecommerce_text" in want else "ecommerce"
        assert json.dumps(case[key]) == json.dumps(want[key]), case["name"]
        assert case.get("kind") == want.get("kind"), case["name"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_sdk_exact_equals_the_recorded_sdk(case: dict[str, Any]) -> None:
    ecommerce, threw = _ecommerce(case), case["sdk"]["threw"]
    if threw:
        with pytest.raises(SdkThrewError) as info:
            SDK_EXACT.events_raw(ecommerce, _kinds(case), tracked_via="eecommerce")
        got: Any = info.value.events
        assert "the web SDK throws" in str(info.value)
    else:
        got = SDK_EXACT.events_raw(ecommerce, _kinds(case), tracked_via="eecommerce")
    assert _text(got) == _recorded(case)


def test_to_exponea_events_takes_the_raw_path_for_ua_and_whole_pushes() -> None:
    ecommerce = {"currencyCode": "EUR", "purchase": {
        "actionField": {"revenue": "35.43"},  # no id: the SDK sends it all the same
        "products": [{"id": "p1", "quantity": 1.5, "price": 15.0, "brand": True, "sku": "S"}]}}
    want = [
        ("product_purchase", {"tracked_via": "eecommerce", "currency_code": "EUR",
                              "revenue": "35.43", "product_id": "p1", "brand": True,
                              "price": 15, "quantity": 1.5}),
        ("transaction", {"tracked_via": "eecommerce", "currency_code": "EUR", "revenue": "35.43"}),
    ]
    for given in (ecommerce, {"event": "eec.purchase", "ecommerce": ecommerce}):
        events = to_exponea_events(given, mapping="sdk-exact")
        assert [(e.event_type, dict(e.properties)) for e in events] == want
        assert type(events[0].properties["price"]) is int
        assert events.dropped == ("purchase.products[0].sku",)
    with pytest.raises(EcommerceError):  # the validating `sdk` refuses what the SDK sends
        to_exponea_events(ecommerce, mapping="sdk", strict=True)


def test_a_throw_carries_the_events_sent_before_it_and_says_what_is_lost() -> None:
    ecommerce = {"detail": {"products": [{"id": "a"}]},
                 "purchase": {"actionField": {"id": "T1"}, "products": [{"id": "b"}, None]},
                 "refund": {"actionField": {"id": "T1"}}}
    with pytest.raises(SdkThrewError) as info:
        to_exponea_events(ecommerce, mapping="sdk-exact")
    error = info.value
    assert isinstance(error, ValueError) and error.paths == ["purchase.products[1]"]
    assert [e.event_type for e in error.events] == ["product_detail", "product_purchase"]
    assert "after sending 2 events" in str(error) and "(refund) are not sent" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.events == error.events and str(copy) == str(error)


def test_unknown_kinds_send_nothing_and_say_so_and_non_objects_throw() -> None:
    for kind in ("Purchase", ""):
        events = to_exponea_events({"purchase": {"products": [{"id": "a"}]}}, kind,
                                   mapping="sdk-exact")
        assert list(events) == [] and "unknown kind" in events.warnings[0].message
    for value in ([], "purchase", 5, None):  # the SDK checks its argument and throws
        with pytest.raises(SdkThrewError, match="expected object but got") as info:
            to_exponea_events(value, mapping="sdk-exact")
        assert info.value.events == () and info.value.paths == ["ecommerce"]
    assert to_exponea_events({"ecommerce": None}, mapping="sdk-exact") == []  # a clear
    with pytest.raises(SdkThrewError, match="expected string"):
        to_exponea_events({}, None, mapping="sdk-exact")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown kind"):
        to_exponea_events({}, "Purchase", mapping="sdk")


def test_a_number_beyond_the_double_range_is_sent_as_null() -> None:
    ecommerce = {"detail": {"products": [{"id": "a", "price": 10**400, "quantity": -math.inf}]}}
    [event] = to_exponea_events(ecommerce, mapping="sdk-exact")
    assert dict(event.properties) == {"tracked_via": "eecommerce", "product_id": "a",
                                      "price": None, "quantity": None}


def test_tracked_via_is_the_sdk_s_unless_overridden() -> None:
    ecommerce = {"detail": {"products": [{"id": "a"}]}}
    [event] = to_exponea_events(ecommerce, mapping="sdk-exact")
    assert event.properties["tracked_via"] == "eecommerce"
    [event] = to_exponea_events(ecommerce, mapping="sdk-exact", tracked_via="ecommerce")
    assert next(iter(event.properties.items())) == ("tracked_via", "ecommerce")
    with pytest.raises(ValueError, match="tracked_via"):
        to_exponea_events(ecommerce, mapping="sdk-exact", tracked_via="")


def test_the_interface_the_converter_calls() -> None:
    assert MAPPINGS["sdk-exact"].reads_raw is True  # type: ignore[attr-defined]
    assert MAPPINGS["sdk"].reads_raw is False  # type: ignore[attr-defined]
    # GA4 goes through the model: the byte-for-byte promise is for UA objects
    ga4 = {"event": "view_item", "ecommerce": {"currency": "EUR", "items": [
        {"item_id": "a", "price": 15.0}]}}
    [event] = to_exponea_events(ga4, mapping="sdk-exact")
    assert event.event_type == "product_detail" and event.properties["price"] == 15


def test_recorded_file_names_are_the_groups() -> None:
    assert {path.stem for path in FILES} >= {*KINDS, "all", "unknown-kind", "ecommerce",
                                             "issue-9", "ua-fixtures"}
    assert all(isinstance(case["sdk"]["events"], list) for case in CASES)
    assert not any(key in e["properties"] for case in CASES for e in case["sdk"]["events"]
                   for key in ("location", "os", "browser", "device"))


def test_fixture_folder_has_no_sdk_code() -> None:
    for path in Path(FOLDER).iterdir():
        assert path.suffix in (".json", ".py"), path
        assert "trackEnhancedEcommerce(t," not in path.read_text(encoding="utf-8")
