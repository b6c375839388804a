"""One UA ``ecommerce`` object written in each other form GA data arrives in, for round-trip tests.

Every renderer takes a clean, typed UA object (``EcommerceCase.intended`` of
:mod:`ga_ee_bridge.testing.strategies`: money as float, counts as int, trimmed text, no blank fields) and
writes what the same data looks like as GA4 dataLayer pushes, gtag.js ``arguments`` pushes,
analytics.js ``ec`` commands, a Measurement Protocol hit or a BigQuery export row, following
Google's documented key tables. What a form cannot carry is the caller's business (see the
``can_*`` predicates); a renderer never drops data silently: it raises instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from ga_ee_bridge.core.model import KINDS, PROMOTION_KINDS
from ga_ee_bridge.testing.strategies import EcommerceCase

__all__ = [
    "HIT_ACTIONS",
    "analyticsjs",
    "bigquery_row",
    "can_be_ga4",
    "can_be_gtag",
    "can_be_hit",
    "decimal_text",
    "ga4",
    "gtag",
    "mp_hit",
    "without_custom",
]

#: The sections a hit (analytics.js send, MP hit, BigQuery hit) carries as its one action.
HIT_ACTIONS = ("click", "detail", "add", "remove", "checkout", "checkout_option", "purchase",
               "refund", "promoClick")

_CUSTOM = re.compile(r"(dimension|metric)([0-9]+)")


# --- restrictions: what each form can carry ------------------------------------------------------

def _strip_custom(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_custom(v) for k, v in obj.items() if not _CUSTOM.fullmatch(str(k))}
    if isinstance(obj, list):
        return [_strip_custom(item) for item in obj]
    return obj


def without_custom(case: EcommerceCase) -> EcommerceCase:
    """``case`` with every custom ``dimensionN``/``metricN`` left out, as pushed and as meant.

    GA4 and gtag.js items have no custom dimension slots the readers know (custom item
    parameters are dropped keys), so the event forms get objects without them.
    """
    return EcommerceCase(
        ecommerce=_strip_custom(case.ecommerce), intended=_strip_custom(case.intended),
        kinds=case.kinds,
    )


def _items(ecommerce: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    section = ecommerce[kind]
    if kind == "impressions":
        return list(section)
    return list(section.get("promotions" if kind in PROMOTION_KINDS else "products", []))


def _action_field(ecommerce: dict[str, Any], kind: str) -> dict[str, Any]:
    section = ecommerce[kind]
    return dict(section.get("actionField", {})) if isinstance(section, dict) else {}


def _promotions_distinct(ecommerce: dict[str, Any]) -> bool:
    for kind in PROMOTION_KINDS:
        if kind in ecommerce:
            promos = [tuple(sorted(p.items())) for p in _items(ecommerce, kind)]
            if not promos or len(set(promos)) < len(promos):
                return False
    return True


def _list_has_products(ecommerce: dict[str, Any]) -> bool:
    """A click/detail list name travels on the products in gtag.js and BigQuery."""
    return all(
        "list" not in _action_field(ecommerce, kind) or _items(ecommerce, kind)
        for kind in ("click", "detail") if kind in ecommerce
    )


def can_be_ga4(ecommerce: dict[str, Any]) -> bool:
    """GA4 has no checkout option event, numbers checkout steps 1-3 (an option only on 2 and 3),
    counts ``index`` from 0 (no position 0), needs at least one promotion per promotion event and
    merges identical promotions."""
    if "checkout_option" in ecommerce or not _promotions_distinct(ecommerce):
        return False
    if "checkout" in ecommerce:
        action = _action_field(ecommerce, "checkout")
        if action.get("step") not in (1, 2, 3) or (action["step"] == 1 and "option" in action):
            return False
    return all(
        item.get("position") != 0
        for kind in ecommerce if kind in KINDS and kind not in PROMOTION_KINDS
        for item in _items(ecommerce, kind)
    )


def can_be_gtag(ecommerce: dict[str, Any]) -> bool:
    """UA gtag.js needs a promotion per promotion event, merges identical promotions and carries
    a click/detail list name on the items only. A purchase or refund with a ``value`` and no
    items cannot be told from GA4's (whose ``value`` is no revenue): the reader takes it as GA4.
    """
    orders_tell = all(
        "revenue" not in _action_field(ecommerce, kind) or _items(ecommerce, kind)
        for kind in ("purchase", "refund") if kind in ecommerce
    )
    return orders_tell and _promotions_distinct(ecommerce) and _list_has_products(ecommerce)


def can_be_hit(ecommerce: dict[str, Any], *, bigquery: bool = False) -> bool:
    """A hit carries at most one action; a promotion view and click cannot share it. BigQuery
    also carries a click/detail list name on the product rows only."""
    actions = [kind for kind in HIT_ACTIONS if kind in ecommerce]
    if len(actions) > 1 or ("promoClick" in ecommerce and "promoView" in ecommerce):
        return False
    return _list_has_products(ecommerce) if bigquery else True


# --- GA4 and gtag.js: one event per section ------------------------------------------------------

_GA4_ITEM = {"id": "item_id", "name": "item_name", "brand": "item_brand", "variant": "item_variant",
             "price": "price", "quantity": "quantity", "coupon": "coupon",
             "list": "item_list_name"}
_GA4_EVENT = {"impressions": "view_item_list", "click": "select_item", "detail": "view_item",
              "add": "add_to_cart", "remove": "remove_from_cart", "promoView": "view_promotion",
              "promoClick": "select_promotion", "purchase": "purchase", "refund": "refund"}
_GA4_CHECKOUT = {1: "begin_checkout", 2: "add_shipping_info", 3: "add_payment_info"}
_GA4_OPTION = {2: "shipping_tier", 3: "payment_type"}


def _ga4_category(category: str) -> dict[str, str]:
    """``"A/B/C"`` as ``item_category``, ``item_category2``... when the levels survive trimming;
    otherwise (``"A / B"``, ``"A//B"``, more than 5 levels) the whole text as one level."""
    levels = category.split("/")
    if not 1 < len(levels) <= 5 or any(not level or level != level.strip() for level in levels):
        levels = [category]
    return {
        "item_category" if number == 1 else f"item_category{number}": level
        for number, level in enumerate(levels, start=1)
    }


def _ga4_item(item: dict[str, Any]) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    for key, value in item.items():
        if key == "position":
            rendered["index"] = value - 1  # GA4 counts from 0, UA from 1
        elif key == "category":
            rendered.update(_ga4_category(value))
        elif key in _GA4_ITEM:
            rendered[_GA4_ITEM[key]] = value
        else:
            raise ValueError(f"GA4 items cannot carry {key!r}")
    return rendered


def _ga4_promotion(promo: dict[str, Any]) -> dict[str, Any]:
    keys = {"id": "promotion_id", "name": "promotion_name", "creative": "creative_name",
            "position": "creative_slot"}
    return {keys[key]: value for key, value in promo.items()}


def _sections(ecommerce: dict[str, Any]) -> list[str]:
    return [kind for kind in KINDS if kind in ecommerce]


def ga4(ecommerce: dict[str, Any]) -> list[dict[str, Any]]:
    """GA4 dataLayer pushes ``{"event": ..., "ecommerce": {...}}``, one per section, in KINDS order.

    UA's ``revenue`` includes tax and shipping, GA4's ``value`` does not: ``value`` is written as
    revenue - tax - shipping (missing ones count as zero, as a shop would compute it).
    """
    pushes: list[dict[str, Any]] = []
    for kind in _sections(ecommerce):
        params: dict[str, Any] = {}
        if "currencyCode" in ecommerce:
            params["currency"] = ecommerce["currencyCode"]
        if kind in PROMOTION_KINDS:
            params["items"] = [_ga4_promotion(p) for p in _items(ecommerce, kind)]
            pushes.append({"event": _GA4_EVENT[kind], "ecommerce": params})
            continue
        params["items"] = [_ga4_item(item) for item in _items(ecommerce, kind)]
        action = _action_field(ecommerce, kind)
        renamed = {"id": "transaction_id", "affiliation": "affiliation", "tax": "tax",
                   "shipping": "shipping", "coupon": "coupon", "list": "item_list_name"}
        params.update({renamed[k]: v for k, v in action.items() if k in renamed})
        if "revenue" in action:
            params["value"] = action["revenue"] - action.get("tax", 0.0) - action.get("shipping", 0.0)
        event = _GA4_EVENT.get(kind)
        if kind == "checkout":
            event = _GA4_CHECKOUT[action["step"]]
            if "option" in action:
                params[_GA4_OPTION[action["step"]]] = action["option"]
        if event is None:
            raise ValueError(f"GA4 has no event for {kind!r}")
        pushes.append({"event": event, "ecommerce": params})
    return pushes


_GTAG_ITEM = {"id": "id", "name": "name", "brand": "brand", "category": "category",
              "variant": "variant", "price": "price", "quantity": "quantity", "coupon": "coupon",
              "position": "list_position", "list": "list_name"}
_GTAG_EVENT = {"impressions": "view_item_list", "click": "select_content", "detail": "view_item",
               "add": "add_to_cart", "remove": "remove_from_cart", "checkout": "checkout_progress",
               "checkout_option": "set_checkout_option", "purchase": "purchase",
               "refund": "refund", "promoView": "view_promotion", "promoClick": "select_content"}
_GTAG_PARAM = {"id": "transaction_id", "affiliation": "affiliation", "revenue": "value",
               "tax": "tax", "shipping": "shipping", "coupon": "coupon", "step": "checkout_step",
               "option": "checkout_option"}


def gtag(ecommerce: dict[str, Any]) -> list[dict[str, Any]]:
    """UA gtag.js ``arguments`` pushes ``{"0": "event", "1": name, "2": params}``, one per section.

    A click/detail list name goes on every item (``list_name``): gtag.js has no event-level list.
    """
    pushes: list[dict[str, Any]] = []
    for kind in _sections(ecommerce):
        params: dict[str, Any] = {}
        if "currencyCode" in ecommerce:
            params["currency"] = ecommerce["currencyCode"]
        if kind in PROMOTION_KINDS:
            keys = {"id": "id", "name": "name", "creative": "creative_name",
                    "position": "creative_slot"}
            params["promotions"] = [
                {keys[k]: v for k, v in p.items()} for p in _items(ecommerce, kind)
            ]
            if kind == "promoClick":
                params["content_type"] = "promotion"
        else:
            action = _action_field(ecommerce, kind)
            items = [{_GTAG_ITEM[k]: v for k, v in item.items()}
                     for item in _items(ecommerce, kind)]
            if "list" in action:
                for item in items:
                    item["list_name"] = action["list"]
            if kind != "checkout_option":
                params["items"] = items
            params.update({_GTAG_PARAM[k]: v for k, v in action.items() if k != "list"})
            if kind == "click":
                params["content_type"] = "product"
        pushes.append({"0": "event", "1": _GTAG_EVENT[kind], "2": params})
    return pushes


# --- hits: analytics.js, Measurement Protocol, BigQuery ------------------------------------------

def _hit_action(ecommerce: dict[str, Any]) -> str | None:
    actions = [kind for kind in HIT_ACTIONS if kind in ecommerce]
    if len(actions) > 1:
        raise ValueError(f"one hit carries one action, not {actions}")
    return actions[0] if actions else None


def analyticsjs(ecommerce: dict[str, Any]) -> list[list[Any]]:
    """The ``ga()`` commands of one pageview carrying ``ecommerce`` (the ``ec`` plugin)."""
    commands: list[list[Any]] = [["create", "UA-XXXXX-Y", "auto"], ["require", "ec"]]
    if "currencyCode" in ecommerce:
        commands.append(["set", "&cu", ecommerce["currencyCode"]])
    commands += [["ec:addImpression", item] for item in ecommerce.get("impressions", [])]
    for kind in PROMOTION_KINDS:
        if kind in ecommerce:
            commands += [["ec:addPromo", promo] for promo in _items(ecommerce, kind)]
    action = _hit_action(ecommerce)
    if action == "promoClick":
        commands.append(["ec:setAction", "promo_click"])
    elif action is not None:
        if action != "checkout_option":
            commands += [["ec:addProduct", item] for item in _items(ecommerce, action)]
        if "actionField" in ecommerce[action]:
            commands.append(["ec:setAction", action, ecommerce[action]["actionField"]])
        else:
            commands.append(["ec:setAction", action])
    commands.append(["send", "pageview"])
    return commands


def decimal_text(value: Any) -> str:
    """A number as plain decimal text, exactly (``1e-06`` is written ``0.000001``)."""
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


_MP_ITEM = {"id": "id", "name": "nm", "brand": "br", "category": "ca", "variant": "va",
            "price": "pr", "quantity": "qt", "coupon": "cc", "position": "ps"}
_MP_ACTION = {"id": "ti", "affiliation": "ta", "revenue": "tr", "tax": "tt", "shipping": "ts",
              "coupon": "tcc", "list": "pal", "step": "cos", "option": "col"}
_MP_PROMO = {"id": "id", "name": "nm", "creative": "cr", "position": "ps"}


def _mp_item(prefix: str, item: dict[str, Any]) -> list[tuple[str, str]]:
    params = []
    for key, value in item.items():
        custom = _CUSTOM.fullmatch(key)
        if custom:
            name = f"{prefix}c{'d' if custom[1] == 'dimension' else 'm'}{custom[2]}"
        else:
            name = prefix + _MP_ITEM[key]
        params.append((name, decimal_text(value)))
    return params


def mp_hit(ecommerce: dict[str, Any], *, client_id: str = "555") -> str:
    """One Measurement Protocol v1 pageview hit (a query string) carrying ``ecommerce``.

    Each impression gets its own list (``il{N}``), named when the impression has a list.
    """
    params: list[tuple[str, str]] = [("v", "1"), ("tid", "UA-XXXXX-Y"), ("cid", client_id),
                                     ("t", "pageview")]
    if "currencyCode" in ecommerce:
        params.append(("cu", ecommerce["currencyCode"]))
    for number, impression in enumerate(ecommerce.get("impressions", []), start=1):
        if "list" in impression:
            params.append((f"il{number}nm", impression["list"]))
        fields = {k: v for k, v in impression.items() if k != "list"}
        params += _mp_item(f"il{number}pi1", fields)
    action = _hit_action(ecommerce)
    if action is not None and action != "promoClick":
        params.append(("pa", action))
        params += [(_MP_ACTION[k], decimal_text(v))
                   for k, v in _action_field(ecommerce, action).items()]
        for number, product in enumerate(_items(ecommerce, action), start=1):
            params += _mp_item(f"pr{number}", product)
    for kind in PROMOTION_KINDS:
        if kind in ecommerce:
            if kind == "promoClick":
                params.append(("promoa", "promo_click"))
            for number, promo in enumerate(_items(ecommerce, kind), start=1):
                params += [(f"promo{number}{_MP_PROMO[k]}", v) for k, v in promo.items()]
    return urlencode(params)


def micros(value: float | int) -> str:
    """A currency amount in micros as BigQuery's JSON export writes INT64: as text. Raises when
    the amount has more than 6 decimals (BigQuery could not hold it)."""
    amount = Decimal(repr(value) if isinstance(value, float) else value).scaleb(6)
    if amount != amount.to_integral_value():
        raise ValueError(f"{value!r} has more than 6 decimals: not a whole number of micros")
    return str(int(amount))


_BQ_ITEM: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "id": ("productSKU", str), "name": ("v2ProductName", str), "brand": ("productBrand", str),
    "category": ("v2ProductCategory", str), "variant": ("productVariant", str),
    "price": ("localProductPrice", micros), "quantity": ("productQuantity", str),
    "coupon": ("productCouponCode", str), "position": ("productListPosition", str),
    "list": ("productListName", str),
}
_BQ_ACTION_TYPE = {"click": "1", "detail": "2", "add": "3", "remove": "4", "checkout": "5",
                   "purchase": "6", "refund": "7", "checkout_option": "8"}
_BQ_TRANSACTION = {"id": "transactionId", "affiliation": "affiliation",
                   "revenue": "localTransactionRevenue", "tax": "localTransactionTax",
                   "shipping": "localTransactionShipping", "coupon": "transactionCoupon"}
_BQ_PROMO = {"id": "promoId", "name": "promoName", "creative": "promoCreative",
             "position": "promoPosition"}


def _bq_product(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"customDimensions": [], "customMetrics": [], **extra}
    for key, value in item.items():
        custom = _CUSTOM.fullmatch(key)
        if custom and custom[1] == "dimension":
            row["customDimensions"].append({"index": custom[2], "value": value})
        elif custom:
            row["customMetrics"].append({"index": custom[2], "value": decimal_text(value)})
        else:
            column, write = _BQ_ITEM[key]
            row[column] = write(value)
    return row


def bigquery_row(
    ecommerce: dict[str, Any], *, visitor: str = "1", visit_start: int = 1501583974
) -> dict[str, Any]:
    """A ``ga_sessions_*`` row (JSON export) of one session with one hit carrying ``ecommerce``.

    Money in local-currency micros; a click/detail list name on every product row.
    """
    action = _hit_action(ecommerce)
    product_action = action if action in _BQ_ACTION_TYPE else None
    action_field = _action_field(ecommerce, product_action) if product_action else {}
    transaction: dict[str, Any] = {}
    if "currencyCode" in ecommerce:
        transaction["currencyCode"] = ecommerce["currencyCode"]
    for key, value in action_field.items():
        if key in _BQ_TRANSACTION:
            money = key in ("revenue", "tax", "shipping")
            transaction[_BQ_TRANSACTION[key]] = micros(value) if money else value
    rows = [_bq_product(item, isImpression=True) for item in ecommerce.get("impressions", [])]
    if product_action and product_action != "checkout_option":
        extra = {"productListName": action_field["list"]} if "list" in action_field else {}
        rows += [_bq_product(item, **extra) for item in _items(ecommerce, product_action)]
    ec_action: dict[str, Any] = {"action_type": _BQ_ACTION_TYPE.get(product_action or "", "0")}
    if "step" in action_field:
        ec_action["step"] = str(action_field["step"])
    if "option" in action_field:
        ec_action["option"] = action_field["option"]
    hit: dict[str, Any] = {
        "hitNumber": "1", "time": "0", "type": "PAGE", "eCommerceAction": ec_action,
        "transaction": transaction, "product": rows, "promotion": [],
    }
    for kind in PROMOTION_KINDS:
        if kind in ecommerce:
            hit["promotion"] = [{_BQ_PROMO[k]: v for k, v in p.items()}
                                for p in _items(ecommerce, kind)]
            hit["promotionActionInfo"] = {"promoIsView": kind == "promoView",
                                          "promoIsClick": kind == "promoClick"}
    return {"visitStartTime": str(visit_start), "fullVisitorId": visitor, "hits": [hit]}
