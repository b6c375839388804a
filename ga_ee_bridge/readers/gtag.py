"""gtag.js pushes as dumps hold them: ``arguments``, as ``{"0": "event", "1": name, "2": {...}}``.

gtag.js spoke two dialects. Universal Analytics' (``view_item_list``, ``select_content``,
``checkout_progress``, ``set_checkout_option``...; items with ``id``, ``name``, ``list_name``,
``list_position``) is read with the tables below; there ``value`` IS the revenue (UA semantics,
tax and shipping included), so it becomes ``revenue`` on a purchase or refund and is dropped
elsewhere. GA4's (the same events as the GA4 dataLayer, items with ``item_id``...) is read exactly
as :mod:`ga_ee_bridge.readers.ga4` reads it. :func:`dialect_of` tells them apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ga_ee_bridge.core.model import Ecommerce
from ga_ee_bridge.errors import EcommerceError, show
from ga_ee_bridge.readers import ga4
from ga_ee_bridge.readers._events import Dialect, EventSpec
from ga_ee_bridge.readers._fields import Count, Currency, Identifier, LenientField, Money, Text

__all__ = [
    "ANALYTICS_PREFIXES",
    "COMMANDS",
    "GA4_GTAG",
    "UA_EVENTS",
    "UA_GTAG",
    "UA_ITEM_KEYS",
    "UA_PARAM_KEYS",
    "UA_PROMOTION_KEYS",
    "arguments_of",
    "dialect_of",
    "for_analytics",
    "read_arguments",
]

# UA gtag.js item key -> (role, field class), in the order of Google's gtag.js EE guide.
UA_ITEM_KEYS: dict[str, tuple[str, type[LenientField]]] = {
    "id": ("id", Identifier),
    "name": ("name", Text),
    "list_name": ("list", Text),
    "brand": ("brand", Text),
    "category": ("category", Text),
    "variant": ("variant", Text),
    "list_position": ("position", Count),
    "quantity": ("quantity", Count),
    "price": ("price", Money),
    "coupon": ("coupon", Text),
}
UA_PROMOTION_KEYS: dict[str, tuple[str, type[LenientField]]] = {
    "id": ("promo_id", Identifier),
    "name": ("promo_name", Text),
    "creative_name": ("creative", Text),
    "creative_slot": ("promo_position", Text),
}
UA_PARAM_KEYS: dict[str, tuple[str, type[LenientField]]] = {
    "transaction_id": ("id", Identifier),
    "affiliation": ("affiliation", Text),
    "value": ("revenue", Money),
    "currency": ("currency", Currency),
    "tax": ("tax", Money),
    "shipping": ("shipping", Money),
    "coupon": ("coupon", Text),
    "checkout_step": ("step", Count),
    "checkout_option": ("option", Text),
    "content_type": ("content_type", Text),
}


def _select_content(params: Mapping[str, Any]) -> str | None:
    """``select_content``: a product click, a promotion click, or no ecommerce at all."""
    content_type = params.get("content_type")
    if isinstance(content_type, str) and content_type.strip():
        return {"product": "click", "promotion": "promoClick"}.get(content_type.strip().lower())
    if params.get("items"):
        return "click"
    if params.get("promotions"):
        return "promoClick"
    return None


#: UA gtag.js event -> the UA section it reads as.
UA_EVENTS: dict[str, EventSpec] = {
    "view_item_list": EventSpec("impressions"),
    "select_content": EventSpec("click", kind_of=_select_content),
    "view_item": EventSpec("detail"),
    "add_to_cart": EventSpec("add"),
    "remove_from_cart": EventSpec("remove"),
    "begin_checkout": EventSpec("checkout", step=1, step_role="step", option_role="option"),
    "checkout_progress": EventSpec("checkout", step_role="step", option_role="option"),
    "set_checkout_option": EventSpec("checkout_option", step_role="step", option_role="option"),
    "purchase": EventSpec("purchase"),
    "refund": EventSpec("refund"),
    "view_promotion": EventSpec("promoView"),
}

UA_GTAG = Dialect(
    source="gtag",
    item_keys=UA_ITEM_KEYS,
    param_keys=UA_PARAM_KEYS,
    events=UA_EVENTS,
    item_id_keys=("id", "name"),
    promotion_keys=UA_PROMOTION_KEYS,
)
#: GA4 events sent through gtag.js: GA4's tables, reported as source ``"gtag"``.
GA4_GTAG = replace(ga4.GA4, source="gtag")

#: The commands of gtag.js: the first argument of every ``gtag()`` call.
COMMANDS = frozenset({"event", "config", "set", "get", "js", "consent"})

_UA_ONLY = frozenset({"select_content", "checkout_progress", "set_checkout_option"})
_GA4_ONLY = frozenset(ga4.EVENTS) - frozenset(UA_EVENTS) | frozenset(ga4.UNSUPPORTED_EVENTS)
_GA4_PARAMS = ("promotion_id", "promotion_name", "creative_name", "creative_slot",
               "item_list_name", "shipping_tier", "payment_type")


def dialect_of(event: str, params: Mapping[str, Any]) -> Dialect:
    """Which gtag.js dialect ``event`` with ``params`` is in.

    UA-only names (``select_content``, ``checkout_progress``, ``set_checkout_option``) are UA;
    GA4-only names (``select_item``, ``add_shipping_info``, ``view_cart``...) are GA4. Shared
    names go by the items' keys (``item_id``/``item_name``: GA4, ``id``/``name``: UA), then by a
    ``promotions`` list (UA) or GA4-only params. With no clue left (e.g. a purchase without
    items) the push reads as GA4: its ``value`` is then kept as ``value`` and never called
    revenue, the safe reading since UA stopped processing data in 2023.
    """
    if event in _UA_ONLY:
        return UA_GTAG
    if event in _GA4_ONLY:
        return GA4_GTAG
    items = params.get("items")
    if isinstance(items, Mapping):
        items = [items]
    if isinstance(items, list | tuple):
        for item in items:
            if isinstance(item, Mapping):
                if "item_id" in item or "item_name" in item:
                    return GA4_GTAG
                if "id" in item or "name" in item:
                    return UA_GTAG
    if "promotions" in params:
        return UA_GTAG
    if any(key in params for key in _GA4_PARAMS):
        return GA4_GTAG
    return GA4_GTAG


def arguments_of(push: Any) -> tuple[Any, Any, Any] | None:
    """``(command, name, params)`` of a gtag ``arguments`` push, or None when it is not one.

    Accepts the object ``JSON.stringify`` makes of ``arguments`` (``{"0": ..., "1": ...}``) and
    a plain list, whose first entry is a gtag.js command (:data:`COMMANDS`).
    """
    if isinstance(push, Mapping):
        command = push.get("0")
        if not isinstance(command, str) or command not in COMMANDS:
            return None
        return command, push.get("1"), push.get("2")
    if isinstance(push, Sequence) and not isinstance(push, str) and push:
        if not isinstance(push[0], str) or push[0] not in COMMANDS:
            return None
        padded = [*push[:3], None, None]
        return padded[0], padded[1], padded[2]
    return None


def read_arguments(
    push: Any, *, strict: bool = False, kinds: tuple[str, ...] | None = None
) -> Ecommerce:
    """Read a gtag.js ``arguments`` push into the model (paths relative to its params).

    Commands other than ``event`` (``config``, ``set``, ``js``...) and events without
    ecommerce data (``page_view``...) read as an empty model; an ecommerce event with no UA
    counterpart, or any other event carrying ``items``, reads as ``unsupported_event``.
    ``kinds`` reads only events of those sections (others read as an empty model).
    """
    parsed = arguments_of(push)
    if parsed is None:
        raise EcommerceError([f"not a gtag.js arguments object: {show(push)}"])
    command, event, params = parsed
    if command != "event":
        return _EMPTY
    if not isinstance(event, str) or not event.strip():
        raise EcommerceError({"1": [f"not an event name: {show(event)}"]})
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise EcommerceError({"2": [f"not an object: {show(params)}"]})
    dialect = dialect_of(event, params)
    if event not in dialect.events:
        if event in ga4.UNSUPPORTED_EVENTS or _carries_ecommerce(params):
            return ga4.read_event(event, params, strict=strict, dialect=dialect, kinds=kinds)
        return _EMPTY
    spec = dialect.events[event]
    if spec.kind_of is not None and spec.kind_of(params) is None and not _carries_ecommerce(
        params
    ):
        return _EMPTY  # select_content of an article, a video...: no ecommerce
    return ga4.read_event(event, params, strict=strict, dialect=dialect, kinds=kinds)


def _carries_ecommerce(params: Mapping[str, Any]) -> bool:
    return bool(params.get("items") or params.get("promotions"))


_EMPTY = Ecommerce(source="gtag")


#: Tag id prefixes of Google Analytics (GA4 ``G-``, Universal Analytics ``UA-``); other ids
#: (``AW-`` Google Ads, ``DC-`` Floodlight...) are other products.
ANALYTICS_PREFIXES = ("G-", "UA-")


def for_analytics(params: Any) -> bool:
    """Whether a gtag.js event with these params goes to Google Analytics.

    False only when ``send_to`` names tag ids and none of them is Analytics (``G-``, ``UA-``):
    ``send_to: "AW-123/abc"`` is a Google Ads conversion. No ``send_to`` (every configured
    target), a group name (``"default"``) or a ``GT-`` tag may include Analytics: True.
    """
    if not isinstance(params, Mapping):
        return True
    targets = params.get("send_to")
    if isinstance(targets, str):
        targets = targets.split(",")
    if not isinstance(targets, list | tuple) or not targets:
        return True
    for target in targets:
        if not isinstance(target, str):
            return True
        name = target.strip()
        if name.startswith(ANALYTICS_PREFIXES) or name.startswith("GT-"):
            return True
        head, dash, _ = name.partition("-")
        if not (dash and head.isalpha() and head.isupper()):
            return True  # a group name: it may hold an Analytics target
    return False
