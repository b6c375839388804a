"""Fuzz: every reader, fed any JSON value (or text and bytes where it takes them), either returns
the model or raises ``EcommerceError``, never anything else (nor a traceback from the error's own
``str``/``repr``).

Values are arbitrary JSON, with object keys drawn mostly from each form's own vocabulary so that the
readers go deep, and with the values real dumps break readers on: huge integers, NaN and infinity,
deep nesting. ``FUZZ_EXAMPLES`` (environment) raises the example count for a run by hand.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ga_ee_bridge import EcommerceError, to_exponea_events
from ga_ee_bridge.core.model import KINDS, Ecommerce
from ga_ee_bridge.readers import parse_ecommerce, read_push
from ga_ee_bridge.readers.analyticsjs import read_analyticsjs_sends
from ga_ee_bridge.readers.bigquery import PRODUCT_COLUMNS, PROMOTION_COLUMNS, read_bigquery_row
from ga_ee_bridge.readers.ga4 import EVENTS as GA4_EVENTS
from ga_ee_bridge.readers.ga4 import ITEM_KEYS, PARAM_KEYS
from ga_ee_bridge.readers.gtag import UA_EVENTS, UA_ITEM_KEYS, UA_PARAM_KEYS, UA_PROMOTION_KEYS
from ga_ee_bridge.readers.mp import read_mp_hit
from ga_ee_bridge.readers.ua import ACTION_FIELD_TYPES, PRODUCT_TYPES, PROMOTION_TYPES

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck)
)

_UA_KEYS = sorted({*KINDS, "products", "promotions", "actionField", "currencyCode",
                   "dimension1", "metric2", *PRODUCT_TYPES, *PROMOTION_TYPES,
                   *ACTION_FIELD_TYPES})
_GA4_KEYS = sorted({"items", "promotions", *ITEM_KEYS, *PARAM_KEYS, *UA_ITEM_KEYS,
                    *UA_PARAM_KEYS, *UA_PROMOTION_KEYS})
_BQ_KEYS = sorted({"hits", "visitStartTime", "fullVisitorId", "userId", "clientId", "time",
                   "hitNumber", "type", "eCommerceAction", "action_type", "step", "option",
                   "product", "promotion", "promotionActionInfo", "promoIsView", "promoIsClick",
                   "transaction", "transactionId", "transactionRevenue", "currencyCode",
                   "localTransactionRevenue", "refund", "refundAmount", "customDimensions",
                   "customMetrics", "index", "value", *PRODUCT_COLUMNS, *PROMOTION_COLUMNS})
_MP_KEYS = ["v", "t", "tid", "cid", "uid", "pa", "ti", "tr", "tt", "ts", "tcc", "cu", "qt",
            "pal", "cos", "col", "promoa", "pr1id", "pr1nm", "pr1pr", "pr1qt", "pr1ps", "pr1cd1",
            "pr1cm1", "pr2id", "il1nm", "il1pi1id", "il1pi1pr", "promo1id", "promo1nm",
            "pr" + "9" * 5000 + "id", "pr0id", "pr201id"]

_NUMBERS = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([400, -400, 5000, 16]).map(lambda n: 10 ** abs(n) * (1 if n > 0 else -1)),
    st.sampled_from([2**53, 2**53 + 1, -(2**63), 1e308, math.nan, math.inf]),
)
_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "0", "1.5", "$1,299.00", "top", "(not set)", "6", "1e3",
                     "9" * 500, "9" * 5000, "purchase", "EUR", "eur"]),
)
_SCALARS = st.one_of(st.none(), st.booleans(), _NUMBERS, _TEXT)


def _json(keys: list[str]) -> st.SearchStrategy[Any]:
    key = st.one_of(st.sampled_from(keys), st.text(max_size=6))
    return st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(key, inner, max_size=6),
        ),
        max_leaves=30,
    )


def _any() -> st.SearchStrategy[Any]:
    return st.one_of(_SCALARS, _SCALARS, _json(["id", "name"]))


def _obj(keys: list[str]) -> st.SearchStrategy[Any]:
    """An object with keys of ``keys``, any values; now and then not an object at all."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=4))
    return st.one_of(st.dictionaries(key, _any(), max_size=7), st.dictionaries(key, _any(), max_size=7),
                     _SCALARS)


def _items(keys: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(_obj(keys), max_size=3), st.lists(_obj(keys), max_size=3), _any())


_FIELD_KEYS = sorted({*PRODUCT_TYPES, *PROMOTION_TYPES, "dimension3", "metric1", "list"})
_SECTION = st.fixed_dictionaries({}, optional={
    "actionField": _obj(sorted(ACTION_FIELD_TYPES)),
    "products": _items(_FIELD_KEYS),
    "promotions": _items(_FIELD_KEYS),
    "id": _any(),
    "name": _any(),
})
#: UA ``ecommerce`` objects: known sections holding field objects with any values.
_UA = st.one_of(
    st.dictionaries(st.sampled_from([*KINDS, "currencyCode"]),
                    st.one_of(_SECTION, _SECTION, _items(_FIELD_KEYS), _any()), max_size=4),
    _json(_UA_KEYS),
)
_GA4_ITEM_KEYS = sorted({*ITEM_KEYS, *UA_ITEM_KEYS})
_GA4 = st.one_of(
    st.dictionaries(
        st.sampled_from(sorted({*PARAM_KEYS, *UA_PARAM_KEYS})), _any(), max_size=5
    ).flatmap(lambda params: st.fixed_dictionaries(
        {key: st.just(value) for key, value in params.items()},
        optional={"items": _items(_GA4_ITEM_KEYS),
                  "promotions": _items(sorted(UA_PROMOTION_KEYS))},
    )),
    _json(_GA4_KEYS),
)
_BQ_HIT = st.fixed_dictionaries({}, optional={
    "time": _any(), "hitNumber": _any(),
    "eCommerceAction": st.one_of(
        st.fixed_dictionaries({"action_type": st.one_of(
            st.sampled_from(["0", "1", "2", "3", "5", "6", "7", "8", " 6", "9"]), _any())},
            optional={"step": _any(), "option": _any()}),
        _any()),
    "product": _items(sorted({*PRODUCT_COLUMNS, "customDimensions", "customMetrics"})),
    "promotion": _items(sorted(PROMOTION_COLUMNS)),
    "promotionActionInfo": _obj(["promoIsView", "promoIsClick"]),
    "transaction": _obj(["transactionId", "transactionRevenue", "localTransactionRevenue",
                         "currencyCode", "affiliation", "transactionTax"]),
    "refund": _obj(["refundAmount", "localRefundAmount"]),
})
_BQ = st.one_of(
    st.fixed_dictionaries(
        {"hits": st.one_of(st.lists(st.one_of(_BQ_HIT, _any()), max_size=3), _any())},
        optional={"visitStartTime": _any(), "fullVisitorId": _any(), "userId": _any()},
    ),
    _json(_BQ_KEYS),
)


def _deep(depth: int) -> Any:
    value: Any = {"id": "1"}
    for _ in range(depth):
        value = {"products": [value], "brand": [value]}
    return value


def _only_model_or_ecommerce_error(call: Callable[[], Any]) -> None:
    try:
        result = call()
    except EcommerceError as err:
        assert str(err) and repr(err) and err.paths  # the error renders, whatever the value
        return
    for ecommerce in _models(result):
        assert isinstance(ecommerce, Ecommerce)
        for warning in ecommerce.warnings:
            assert warning.path and warning.message
        for _, error in ecommerce.section_errors:
            assert isinstance(error, EcommerceError) and str(error)


def _models(result: Any) -> list[Any]:
    if isinstance(result, Ecommerce):
        return [result]
    if hasattr(result, "ecommerce"):
        return [result.ecommerce]
    if isinstance(result, list):
        return [item for part in result for item in _models(part)]
    return []


@pytest.mark.parametrize("strict", [False, True])
@FUZZ
@given(value=_UA, kind=st.sampled_from(["all", *KINDS]))
def test_ua(value: Any, kind: str, strict: bool) -> None:
    _only_model_or_ecommerce_error(lambda: parse_ecommerce(value, strict=strict))
    _only_model_or_ecommerce_error(lambda: to_exponea_events(value, kind, strict=strict))
    push = {"event": "x", "ecommerce": value}
    _only_model_or_ecommerce_error(lambda: to_exponea_events(push, kind, strict=strict))


@pytest.mark.parametrize("strict", [False, True])
@FUZZ
@given(value=_GA4, event=st.sampled_from([*GA4_EVENTS, *UA_EVENTS, "view_cart"]))
def test_ga4_and_gtag(value: Any, event: str, strict: bool) -> None:
    ga4 = {"event": event, "ecommerce": value}
    _only_model_or_ecommerce_error(lambda: read_push(ga4, source="ga4", strict=strict))
    _only_model_or_ecommerce_error(lambda: to_exponea_events(ga4, strict=strict))
    gtag = {"0": "event", "1": event, "2": value}
    _only_model_or_ecommerce_error(lambda: read_push(gtag, source="gtag", strict=strict))
    _only_model_or_ecommerce_error(lambda: to_exponea_events(gtag, strict=strict))


_AJS_COMMANDS = ["ec:addImpression", "ec:addProduct", "ec:addPromo", "ec:setAction", "set",
                 "send", "t2.send", "t2.ec:addProduct", "ec:bogus", "create"]


@pytest.mark.parametrize("strict", [False, True])
@FUZZ
@given(commands=st.lists(st.one_of(
    st.tuples(st.sampled_from(_AJS_COMMANDS), _obj(_FIELD_KEYS)).map(list),
    st.tuples(st.sampled_from(_AJS_COMMANDS), st.sampled_from(["purchase", "detail", "&cu"]),
              _obj(sorted(ACTION_FIELD_TYPES))).map(list),
    _json(_UA_KEYS),
), max_size=6))
def test_analyticsjs(commands: list[Any], strict: bool) -> None:
    _only_model_or_ecommerce_error(lambda: read_analyticsjs_sends(commands, strict=strict))


@pytest.mark.parametrize("strict", [False, True])
@FUZZ
@given(hit=st.one_of(
    st.dictionaries(st.sampled_from(_MP_KEYS), st.one_of(_TEXT, _SCALARS), max_size=8),
    st.dictionaries(st.sampled_from(_MP_KEYS), _TEXT, max_size=8).map(
        lambda params: "&".join(f"{k}={v}" for k, v in params.items())
    ),
    st.binary(max_size=40),
    st.text(max_size=40),
    _json(_MP_KEYS),
))
def test_mp(hit: Any, strict: bool) -> None:
    _only_model_or_ecommerce_error(lambda: read_mp_hit(hit, strict=strict))


@pytest.mark.parametrize("strict", [False, True])
@FUZZ
@given(row=_BQ, money=st.sampled_from(["local", "view"]))
def test_bigquery(row: Any, money: Any, strict: bool) -> None:
    _only_model_or_ecommerce_error(
        lambda: list(read_bigquery_row(row, money=money, strict=strict))
    )


# --- the issue's reproducers -------------------------------------------------------------------


@pytest.mark.parametrize("line", [b"\xff", {"pa": 5}, {"pa": []}, "pa=purchase&ti=T1&pr"
                                  + "9" * 5000 + "id=A"])
def test_mp_reproducers_raise_ecommerce_error_or_read(line: Any) -> None:
    try:
        hit = read_mp_hit(line)
    except EcommerceError as err:
        assert err.paths
    else:
        assert hit.ecommerce.warnings  # the 5,000-digit index: left out, with a warning


def test_not_utf8_says_so() -> None:
    with pytest.raises(EcommerceError, match="not UTF-8"):
        read_mp_hit(b"pa=detail&pr1id=\xff")


@pytest.mark.parametrize("strict", [False, True])
def test_ids_of_over_4300_digits_are_no_crash(strict: bool) -> None:
    big = 10**5000
    detail = {"detail": {"products": [{"id": big, "name": "N"}]}}
    try:
        parsed = parse_ecommerce(detail, strict=strict)
    except EcommerceError as err:
        assert strict and "detail.products[0].id" in err.paths
    else:
        assert not strict
        assert parsed.warnings[0].path == "detail.products[0].id"
        assert parsed.sections["detail"].items[0].id is None
    with pytest.raises(EcommerceError):
        parse_ecommerce({"purchase": {"actionField": {"id": big}}}, strict=strict)


@pytest.mark.parametrize("strict", [False, True])
def test_a_500_deep_object_is_no_crash_in_reading_nor_in_the_error(strict: bool) -> None:
    deep = _deep(500)
    try:
        parse_ecommerce({"detail": deep}, strict=strict)
    except EcommerceError as err:
        assert str(err) and repr(err)
    with pytest.raises(EcommerceError) as info:
        parse_ecommerce({"detail": {"products": [{"brand": deep}]}}, strict=strict)
    assert len(str(info.value)) < 400


def test_a_quantity_of_10_to_the_400_is_dropped_not_emitted() -> None:
    events = to_exponea_events({"add": {"products": [{"id": "A", "quantity": 10**400}]}})
    assert [dict(e.properties) for e in events] == [{"tracked_via": "ecommerce",
                                                      "product_id": "A"}]
    assert [(w.path, w.value) for w in events.warnings] == [("add.products[0].quantity",
                                                              10**400)]
    with pytest.raises(EcommerceError, match="too large"):
        to_exponea_events({"add": {"products": [{"id": "A", "quantity": 2**53 + 1}]}},
                          strict=True)


@pytest.mark.parametrize("row", [
    {"visitStartTime": 1, "hits": [{"eCommerceAction": {"action_type": []}}]},
    {"visitStartTime": 1, "hits": [{"time": "9" * 400, "eCommerceAction": {"action_type": "2"},
                                    "product": [{"productSKU": "A", "productPrice": "9" * 400}]}]},
])
def test_bigquery_reproducers(row: Any) -> None:
    _only_model_or_ecommerce_error(lambda: list(read_bigquery_row(row)))
