"""The UA reader's compiled plan gives exactly what its schemas give, or hands the object over.

The schemas are the definition: an object read through a ``MappingProxyType`` (no ``dict``) takes
their path. The plan must agree on every object it reads itself, in both modes, dirty and
corrupted objects included, and it must read the clean objects shops push (else it is no fast path).
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from ga_ee_bridge.core.model import KINDS
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.readers import detect_source, parse_ecommerce, ua, ua_object
from ga_ee_bridge.readers._plan import Slow
from ga_ee_bridge.testing import strategies as gst

_MODES = pytest.mark.parametrize("strict", [False, True])


def _read(ecommerce: Any, strict: bool) -> Any:
    """The model read, or the messages of the error raised."""
    try:
        return ua.read_ecommerce(ecommerce, strict=strict)
    except EcommerceError as err:
        return ("error", err.messages)


def _through_schemas(ecommerce: dict[str, Any], strict: bool) -> Any:
    return _read(MappingProxyType(ecommerce), strict)


def _through_plan(ecommerce: dict[str, Any], strict: bool) -> Any:
    """The plan's model, or None where it hands the object over."""
    try:
        return ua.compiled_plan(strict)(ecommerce, KINDS)
    except (Slow, ValidationError):
        return None


@_MODES
@settings(max_examples=150)
@given(data=st.data())
def test_the_plan_agrees_with_the_schemas(strict: bool, data: st.DataObject) -> None:
    obj = data.draw(st.one_of(
        gst.ecommerce(dirty=True), gst.ecommerce(dirty=False),
        gst.corrupted(dirty=False).map(lambda pair: pair[0]).filter(
            lambda obj: type(obj) is dict),
    ))
    planned = _through_plan(obj, strict)
    if planned is not None:
        expected = _through_schemas(obj, strict)
        assert planned == expected
        assert _read(obj, strict) == expected  # the entry point uses it


@_MODES
@settings(max_examples=60)
@given(obj=gst.ecommerce(dirty=False))
def test_the_plan_reads_clean_objects(strict: bool, obj: dict[str, Any]) -> None:
    assert _through_plan(obj, strict) == _through_schemas(obj, strict)


@pytest.mark.parametrize("obj", [
    {"detail": {"id": "P1", "name": "flat"}},  # a flat product: repaired (or refused) by schemas
    {"purchase": {"actionField": {"revenue": "1"}, "products": [{"id": "P1"}]}},  # no order id
    {"add": {"products": [{"id": "P1", "price": "n/a"}]}},  # a value to drop with a warning
    {"add": {"products": [{"id": "P1", "dimension1": ["x"]}]}},  # a custom value to drop
    {"add": {"products": {"id": "P1"}}},  # an object where a list belongs
    {"impressions": {"id": "P1"}},
    {"add": {"products": [{"price": "1"}]}},  # neither id nor name
    {"currencyCode": ["EUR"], "add": {"products": [{"id": "P1"}]}},
])
def test_what_needs_a_warning_or_an_error_goes_to_the_schemas(obj: dict[str, Any]) -> None:
    assert _through_plan(obj, strict=False) is None
    assert _read(obj, strict=False) == _through_schemas(obj, strict=False)


def test_a_plan_that_gives_up_leaves_no_warning_behind() -> None:
    obj = {"add": {"products": [{"id": "P1", "brand": "B", "price": "n/a"}]}}
    read = ua.read_ecommerce(obj)
    assert [(w.path, w.value) for w in read.warnings] == [("add.products[0].price", "n/a")]


@settings(max_examples=100)
@given(case=gst.cases(push=None))
def test_ua_object_finds_what_parse_ecommerce_reads_as_ua(case: gst.EcommerceCase) -> None:
    found = ua_object(case.ecommerce)
    assert found is not None  # every UA case, bare or pushed
    assert parse_ecommerce(case.ecommerce) == ua.read_ecommerce(found)


@pytest.mark.parametrize("data", [
    {"0": "event", "1": "purchase", "ecommerce": {"purchase": {}}},  # gtag.js arguments
    {"event": "purchase", "ecommerce": {"items": []}},  # GA4
    {"ecommerce": None}, {"ecommerce": ["purchase"]}, [], {"transactionId": "T1"},
    {"purchase": {"actionField": {"id": "T1"}}, "transactionId": "T1"},  # classic GTM first
])
def test_ua_object_leaves_other_forms_alone(data: Any) -> None:
    assert ua_object(data) is None


def test_a_classic_gtm_transaction_beside_ua_keys_reads_as_classic_gtm() -> None:
    data = {"purchase": {"actionField": {"id": "T1"}}, "transactionId": "T1"}
    assert detect_source(data) == "gtm"
    assert parse_ecommerce(data).source == "gtm"


_MONEY_TEXT = ["15.25", " 15.25 ", "1e5", "\u0661\u0662.\u0665", "5.", ".5", "-0", "1" * 400,
               "$15", "1,234.50", "", "  ", "inf", "nan", "0x10", "1_000", "\u00b2"]


@_MODES
@pytest.mark.parametrize("price", _MONEY_TEXT)
def test_money_text_reads_as_the_schemas_read_it(strict: bool, price: str) -> None:
    obj = {"add": {"products": [{"id": "P1", "price": price}], "actionField": {"tax": price}}}
    planned = _through_plan(obj, strict)
    if planned is not None:
        assert planned == _through_schemas(obj, strict)
    for _ in range(2):  # the second read comes from the memo
        assert _read(obj, strict) == _through_schemas(obj, strict)


_MONEY_NUMBERS = [15.25, 0, -0.0, -3, 1e308, 2**53, -(2**53), 2**53 + 1, 10**400, True,
                  float("inf"), float("nan")]


@_MODES
@pytest.mark.parametrize("price", _MONEY_NUMBERS)
def test_money_numbers_read_as_the_schemas_read_them(strict: bool, price: Any) -> None:
    obj = {"add": {"products": [{"id": "P1", "price": price}], "actionField": {"tax": price}}}
    planned = _through_plan(obj, strict)
    expected = _through_schemas(obj, strict)
    inline = (type(price) is float and math.isfinite(price)) or (
        type(price) is int and abs(price) <= 2**53)
    if inline:  # read inline, as a float
        assert planned == expected
        assert type(planned.sections["add"].items[0].price) is float
    elif planned is not None:
        assert planned == expected
    assert _read(obj, strict) == expected


def test_the_memos_keep_short_texts_only() -> None:
    from ga_ee_bridge.readers import _plan

    long_price = "1" * 200 + ".5"
    obj = {"add": {"products": [{"id": "P1", "price": long_price, "dimension" + "9" * 80: "x"}]}}
    ua.read_ecommerce(obj)
    assert long_price not in _plan._MONEY_MEMOS[False]
    ua.read_ecommerce({"add": {"products": [{"id": "P1", "price": "12.5"}]}})
    assert _plan._MONEY_MEMOS[False]["12.5"] == 12.5


def _custom_products(values: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    return [{"id": f"P{n}", "dimension1": text, "metric2": number, "sku": "s"}
            for n, (text, number) in enumerate(values)]


@_MODES
def test_objects_of_one_shape_keep_each_their_own_custom_values(strict: bool) -> None:
    # One sequence of keys is worked out once: every object still gets its own values, blank
    # ones left out, and the same keys in another order are a shape of their own.
    products = _custom_products([(" a ", "1.5"), ("", 2), ("  ", None), (None, ""), ("b", " 3 ")])
    products.append({"sku": "s", "metric2": 4, "dimension1": "c", "id": "P9"})
    obj = {"add": {"products": products}}
    planned = _through_plan(obj, strict)
    assert planned is not None
    assert planned == _through_schemas(obj, strict)
    got = [(list(p.custom.items()), p.dropped) for p in planned.sections["add"].items]
    assert got == [([("dimension1", "a"), ("metric2", 1.5)], ("sku",)),
                   ([("metric2", 2)], ("sku",)), ([], ("sku",)), ([], ("sku",)),
                   ([("dimension1", "b"), ("metric2", 3)], ("sku",)),
                   ([("metric2", 4), ("dimension1", "c")], ("sku",))]  # in the pushed order


def test_a_custom_value_to_warn_about_in_a_known_shape_goes_to_the_schemas() -> None:
    good = {"add": {"products": _custom_products([("a", "1")])}}
    assert _through_plan(good, strict=False) is not None  # the shape is known now
    bad = {"add": {"products": _custom_products([("a", "n/a")])}}
    assert _through_plan(bad, strict=False) is None
    assert [w.path for w in _read(bad, strict=False).warnings] == ["add.products[0].metric2"]
    # strict: a number where a dimension's text belongs is an error, read by the schemas
    number = {"add": {"products": _custom_products([(5, "1")])}}
    assert _through_plan(number, strict=True) is None
    assert _read(number, strict=True)[0] == "error"


@_MODES
def test_more_shapes_than_are_kept_and_longer_ones_read_alike(strict: bool) -> None:
    from ga_ee_bridge.readers import _plan

    many = [{"id": "P", f"dimension{n}": f"v{n}", f"x{n}": 1}
            for n in range(1, _plan._SHAPE_MEMO_SIZE + 50)]
    long = {"id": "P", **{f"dimension{n}": str(n) for n in range(1, _plan._SHAPE_KEYS + 10)}}
    wide = {"id": "P", "x" * (_plan._SHAPE_TEXT + 1): 1, "dimension1": " w "}
    for products in (many, [long, long], [wide, wide], many):
        obj = {"add": {"products": products}}
        planned = _through_plan(obj, strict)
        assert planned is not None
        assert planned == _through_schemas(obj, strict)
