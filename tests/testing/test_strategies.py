"""ga_ee_bridge.testing.strategies: the building blocks draw what they promise, dirt included."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import ga_ee_bridge as gee
from ga_ee_bridge.core.numbers import parse_int, parse_number
from ga_ee_bridge.testing import strategies as gst


@given(gst.money_pairs())
def test_dirty_money_reads_as_the_value_it_stands_for(pair: tuple[Any, float]) -> None:
    raw, value = pair
    assert parse_number(raw) == value


@given(gst.money_pairs(dirty=False))
def test_clean_money_is_read_by_strict_mode(pair: tuple[Any, float]) -> None:
    raw, value = pair
    assert parse_number(raw, strict=True) == value


@given(gst.count_pairs(), gst.count_pairs(dirty=False))
def test_counts(dirty: tuple[Any, int], clean: tuple[Any, int]) -> None:
    assert parse_int(dirty[0]) == dirty[1]
    assert parse_int(clean[0], strict=True) == clean[1]


@given(gst.text_pairs(kind="id"))
def test_text_pairs_stand_for_trimmed_text(pair: tuple[Any, str | None]) -> None:
    raw, text = pair
    assert text == (str(raw).strip() or None)


@pytest.mark.parametrize("kind", sorted(gst.ACTION_FIELD_KEYS))
def test_action_fields_hold_the_documented_keys(kind: str) -> None:
    @given(gst.action_fields(kind, dirty=False))
    def check(action_field: dict[str, Any]) -> None:
        assert set(action_field) <= set(gst.ACTION_FIELD_KEYS[kind])
        if kind in ("purchase", "refund"):
            assert str(action_field["id"]).strip()

    check()


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown kinds"):
        gst.ecommerce(["purchases"])
    with pytest.raises(ValueError, match="unknown kinds"):
        gst.corrupted("promoview")
    with pytest.raises(ValueError, match="has no actionField"):
        gst.action_fields("impressions")


@given(st.lists(st.sampled_from(gee.KINDS), min_size=1, max_size=3, unique=True), st.data())
def test_ecommerce_holds_exactly_the_kinds_asked_for(kinds: list[str], data: st.DataObject) -> None:
    case = data.draw(gst.cases(kinds))
    assert case.kinds == tuple(k for k in gee.KINDS if k in kinds)
    assert {key for key in case.ecommerce if key in gee.KINDS and case.ecommerce[key] is not None} \
        == set(kinds)


@given(gst.ecommerce(push=None), st.data())
def test_corrupt_leaves_its_input_alone(obj: Any, data: st.DataObject) -> None:
    before = copy.deepcopy(obj)
    bad, path = data.draw(gst.corrupt(obj))
    assert obj == before
    assert bad != obj and isinstance(path, str)


def _text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _flat_detail(obj: Any) -> bool:
    detail = obj.get("detail")
    return isinstance(detail, dict) and "products" not in detail and "id" in detail


def _section_items(obj: Any, kind: str, key: str) -> Any:
    section = obj.get(kind)
    return section.get(key) if isinstance(section, dict) else None


DIRT: dict[str, Callable[[Any], bool]] = {
    "dollar price": lambda o: re.search(r'"\$-?[0-9]', _text(o)) is not None,
    "thousands comma": lambda o: any(f"{d},{d}" in _text(o) for d in "123456789"),
    "decimal comma with grouping": lambda o: "." in _text(o) and ",00" in _text(o),
    "narrow space grouping": lambda o: "\u202f" in _text(o),
    "numeric id": lambda o: '"id": 1' in _text(o),
    "string quantity": lambda o: re.search(r'"quantity": " ?[0-9]', _text(o)) is not None,
    "string step": lambda o: re.search(r'"step": " ?[0-9]', _text(o)) is not None,
    "flat detail": _flat_detail,
    "lone product object": lambda o: isinstance(_section_items(o, "purchase", "products"), dict),
    "lone impression object": lambda o: isinstance(o.get("impressions"), dict),
    "null value": lambda o: ": null" in _text(o),
    "empty string": lambda o: ': ""' in _text(o),
    "empty list": lambda o: ": []" in _text(o),
    "unknown key": lambda o: '"sku"' in _text(o) or '"stocklevel"' in _text(o),
    "custom metric": lambda o: '"metric' in _text(o),
    "lower-case currency": lambda o: any(c in _text(o) for c in ('"eur"', '"usd"', '"gbp"')),
    "push": lambda o: "ecommerce" in o,
}


@pytest.mark.parametrize("name", sorted(DIRT))
def test_every_kind_of_dirt_is_drawn(name: str) -> None:
    strategy = gst.ecommerce(["detail", "purchase", "checkout", "impressions"], push=None)
    quick = settings(
        max_examples=5000, database=None, derandomize=True, phases=[Phase.generate]
    )
    found = find(strategy, DIRT[name], settings=quick)  # raises NoSuchExample when never drawn
    gee.to_exponea_events(found)  # the lenient reader takes it


CLEAN_NEVER = ("dollar price", "numeric id", "string quantity", "flat detail", "null value", "push")


@given(gst.ecommerce(["detail", "purchase", "checkout", "impressions"], dirty=False))
def test_clean_objects_have_no_dirt(obj: Any) -> None:
    assert [name for name in CLEAN_NEVER if DIRT[name](obj)] == []


def _decimal_places(value: Any) -> int:
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


@given(st.integers(0, 6), st.data())
def test_decimals_bounds_the_places_of_every_money_value(places: int, data: st.DataObject) -> None:
    raw, value = data.draw(gst.money_pairs(dirty=False, decimals=places))
    assert _decimal_places(value) <= places
    assert parse_number(raw, strict=True) == value
    case = data.draw(gst.cases(["purchase", "impressions"], dirty=False, decimals=places))
    section = case.intended["purchase"]
    objects = [section["actionField"], *section.get("products", []), *case.intended["impressions"]]
    amounts = [v for o in objects for k, v in o.items() if isinstance(v, float)]
    assert all(_decimal_places(amount) <= places for amount in amounts), amounts


def test_decimals_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="decimals"):
        gst.money_pairs(decimals=7)
    with pytest.raises(ValueError, match="decimals"):
        gst.cases(["purchase"], decimals=-1)
