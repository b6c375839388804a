"""Property: a UA purchase rendered as analytics.js commands, an MP hit or a BigQuery row converts
to the same Exponea events (sdk mapping) as the UA object itself.

Money is generated as whole micros, so every amount has at most 6 decimals and survives the
BigQuery export's micros exactly.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from ga_ee_bridge import to_exponea_events
from ga_ee_bridge.readers.analyticsjs import read_analyticsjs
from ga_ee_bridge.readers.bigquery import read_bigquery_row
from ga_ee_bridge.readers.mp import read_mp_hit

# Text as shops send it: no surrounding blanks (every form trims), no GA "(not set)" placeholder.
_text = st.text(
    alphabet=st.characters(
        whitelist_categories=("L", "N"), whitelist_characters=" -_/&=+%.,'"
    ),
    min_size=1,
    max_size=12,
).map(str.strip).filter(bool)
_micros = st.integers(min_value=0, max_value=10**12)
_count = st.integers(min_value=1, max_value=500)
_custom_index = st.integers(min_value=1, max_value=20)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def _product(draw: st.DrawFn) -> dict[str, Any]:
    product = {
        "id": draw(_text),
        "name": draw(_optional(_text)),
        "brand": draw(_optional(_text)),
        "category": draw(_optional(_text)),
        "variant": draw(_optional(_text)),
        "price": draw(_optional(_micros)),
        "quantity": draw(_optional(_count)),
        "coupon": draw(_optional(_text)),
        "position": draw(_optional(_count)),
    }
    for index in draw(st.lists(_custom_index, max_size=2, unique=True)):
        product[f"dimension{index}"] = draw(_text)
    for index in draw(st.lists(_custom_index, max_size=2, unique=True)):
        product[f"metric{index}"] = draw(st.integers(min_value=0, max_value=10**6))
    return {k: v for k, v in product.items() if v is not None}


@st.composite
def _impression(draw: st.DrawFn) -> dict[str, Any]:
    impression = {
        "id": draw(_text),
        "name": draw(_optional(_text)),
        "list": draw(_optional(_text)),
        "brand": draw(_optional(_text)),
        "category": draw(_optional(_text)),
        "variant": draw(_optional(_text)),
        "position": draw(_optional(_count)),
        "price": draw(_optional(_micros)),
    }
    return {k: v for k, v in impression.items() if v is not None}


@st.composite
def _promotion(draw: st.DrawFn) -> dict[str, Any]:
    promotion = {
        "id": draw(_text),
        "name": draw(_optional(_text)),
        "creative": draw(_optional(_text)),
        "position": draw(_optional(_text)),
    }
    return {k: v for k, v in promotion.items() if v is not None}


@st.composite
def purchases(draw: st.DrawFn) -> dict[str, Any]:
    """A UA ``ecommerce`` object with a purchase; money still in micros (see ``_units``)."""
    action_field = {
        "id": draw(_text),
        "affiliation": draw(_optional(_text)),
        "revenue": draw(_optional(_micros)),
        "tax": draw(_optional(_micros)),
        "shipping": draw(_optional(_micros)),
        "coupon": draw(_optional(_text)),
    }
    ecommerce: dict[str, Any] = {
        "purchase": {
            "actionField": {k: v for k, v in action_field.items() if v is not None},
            "products": draw(st.lists(_product(), min_size=1, max_size=4)),
        },
    }
    currency = draw(_optional(st.sampled_from(["EUR", "USD", "CZK"])))
    if currency:
        ecommerce["currencyCode"] = currency
    impressions = draw(st.lists(_impression(), max_size=3))
    if impressions:
        ecommerce["impressions"] = impressions
    promotions = draw(st.lists(_promotion(), max_size=2))
    if promotions:
        ecommerce["promoView"] = {"promotions": promotions}
    return ecommerce


_MONEY = ("price", "revenue", "tax", "shipping")


def _units(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with micros turned into units, as a shop would push it."""
    return {k: (v / 1_000_000 if k in _MONEY else v) for k, v in obj.items()}


def _ua(ecommerce: dict[str, Any]) -> dict[str, Any]:
    ua: dict[str, Any] = {
        "purchase": {
            "actionField": _units(ecommerce["purchase"]["actionField"]),
            "products": [_units(p) for p in ecommerce["purchase"]["products"]],
        }
    }
    if "currencyCode" in ecommerce:
        ua["currencyCode"] = ecommerce["currencyCode"]
    if "impressions" in ecommerce:
        ua["impressions"] = [_units(i) for i in ecommerce["impressions"]]
    if "promoView" in ecommerce:
        ua["promoView"] = ecommerce["promoView"]
    return ua


def _analyticsjs(ecommerce: dict[str, Any]) -> list[list[Any]]:
    ua = _ua(ecommerce)
    commands: list[list[Any]] = [["create", "UA-XXXXX-Y", "auto"], ["require", "ec"]]
    if "currencyCode" in ua:
        commands.append(["set", "&cu", ua["currencyCode"]])
    commands += [["ec:addImpression", i] for i in ua.get("impressions", [])]
    commands += [["ec:addPromo", p] for p in ua.get("promoView", {}).get("promotions", [])]
    commands += [["ec:addProduct", p] for p in ua["purchase"]["products"]]
    commands.append(["ec:setAction", "purchase", ua["purchase"]["actionField"]])
    commands.append(["send", "pageview"])
    return commands


_MP_PRODUCT = {"id": "id", "name": "nm", "brand": "br", "category": "ca", "variant": "va",
               "price": "pr", "quantity": "qt", "coupon": "cc", "position": "ps"}
_MP_ACTION = {"id": "ti", "affiliation": "ta", "revenue": "tr", "tax": "tt", "shipping": "ts",
              "coupon": "tcc"}
_MP_PROMO = {"id": "id", "name": "nm", "creative": "cr", "position": "ps"}


def _mp_value(value: Any) -> str:
    """Money as plain decimal text (``repr`` would write 1e-06)."""
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def _mp(ecommerce: dict[str, Any]) -> str:
    ua = _ua(ecommerce)
    params: list[tuple[str, str]] = [("v", "1"), ("tid", "UA-XXXXX-Y"), ("cid", "555"),
                                     ("t", "pageview"), ("pa", "purchase")]
    if "currencyCode" in ua:
        params.append(("cu", ua["currencyCode"]))
    for key, value in ua["purchase"]["actionField"].items():
        params.append((_MP_ACTION[key], _mp_value(value)))
    for n, product in enumerate(ua["purchase"]["products"], 1):
        for key, value in product.items():
            if key.startswith("dimension"):
                name = f"pr{n}cd{key[9:]}"
            elif key.startswith("metric"):
                name = f"pr{n}cm{key[6:]}"
            else:
                name = f"pr{n}{_MP_PRODUCT[key]}"
            params.append((name, _mp_value(value)))
    for n, impression in enumerate(ua.get("impressions", []), 1):
        for key, value in impression.items():
            name = f"il{n}nm" if key == "list" else f"il{n}pi1{_MP_PRODUCT[key]}"
            params.append((name, _mp_value(value)))
    for n, promotion in enumerate(ua.get("promoView", {}).get("promotions", []), 1):
        params += [(f"promo{n}{_MP_PROMO[k]}", str(v)) for k, v in promotion.items()]
    return urlencode(params)


_BQ_PRODUCT = {"id": "productSKU", "name": "v2ProductName", "brand": "productBrand",
               "category": "v2ProductCategory", "variant": "productVariant",
               "price": "localProductPrice", "quantity": "productQuantity",
               "coupon": "productCouponCode", "position": "productListPosition",
               "list": "productListName"}
_BQ_TRANSACTION = {"id": "transactionId", "affiliation": "affiliation",
                   "revenue": "localTransactionRevenue", "tax": "localTransactionTax",
                   "shipping": "localTransactionShipping", "coupon": "transactionCoupon"}
_BQ_PROMO = {"id": "promoId", "name": "promoName", "creative": "promoCreative",
             "position": "promoPosition"}


def _bq_product(product: dict[str, Any], **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"customDimensions": [], "customMetrics": [], **extra}
    for key, value in product.items():
        if key.startswith("dimension"):
            row["customDimensions"].append({"index": key[9:], "value": value})
        elif key.startswith("metric"):
            row["customMetrics"].append({"index": key[6:], "value": str(value)})
        else:
            # BigQuery's JSON export writes INT64 as text; money stays in micros.
            row[_BQ_PRODUCT[key]] = str(value) if isinstance(value, int) else value
    return row


def _bigquery(ecommerce: dict[str, Any]) -> dict[str, Any]:
    transaction: dict[str, Any] = {
        _BQ_TRANSACTION[k]: str(v) if isinstance(v, int) else v
        for k, v in ecommerce["purchase"]["actionField"].items()
    }
    if "currencyCode" in ecommerce:
        transaction["currencyCode"] = ecommerce["currencyCode"]
    products = [
        _bq_product(i, isImpression=True) for i in ecommerce.get("impressions", [])
    ] + [_bq_product(p) for p in ecommerce["purchase"]["products"]]
    promotions = [
        {_BQ_PROMO[k]: v for k, v in p.items()}
        for p in ecommerce.get("promoView", {}).get("promotions", [])
    ]
    hit: dict[str, Any] = {
        "hitNumber": "1", "time": "0", "type": "PAGE",
        "eCommerceAction": {"action_type": "6", "step": "1"},
        "transaction": transaction, "product": products, "promotion": promotions,
    }
    if promotions:
        hit["promotionActionInfo"] = {"promoIsView": True}
    return {"visitStartTime": "1501583974", "fullVisitorId": "1", "hits": [hit]}


def _events(events: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event_type, dict(e.properties)) for e in events]


@given(purchases())
def test_analyticsjs_converts_like_ua(ecommerce: dict[str, Any]) -> None:
    expected = _events(to_exponea_events(_ua(ecommerce)))
    [parsed] = read_analyticsjs(_analyticsjs(ecommerce), strict=True)
    assert _events(to_exponea_events(parsed)) == expected


@given(purchases())
def test_mp_hit_converts_like_ua(ecommerce: dict[str, Any]) -> None:
    expected = _events(to_exponea_events(_ua(ecommerce)))
    hit = read_mp_hit(_mp(ecommerce), strict=True)
    assert _events(to_exponea_events(hit.ecommerce)) == expected
    assert hit.client_id == "555"


@given(purchases())
def test_bigquery_row_converts_like_ua(ecommerce: dict[str, Any]) -> None:
    expected = _events(to_exponea_events(_ua(ecommerce)))
    [record] = read_bigquery_row(_bigquery(ecommerce), strict=True)
    assert _events(to_exponea_events(record.ecommerce)) == expected
    assert (record.customer_id, record.timestamp) == ("1", 1501583974.0)
