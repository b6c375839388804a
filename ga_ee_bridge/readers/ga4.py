"""GA4 ecommerce, the GTM dataLayer form: ``{"event": "purchase", "ecommerce": {...}}`` -> model.

Each GA4 ecommerce event becomes the UA section Google pairs it with; the key tables below are the
only place that says which GA4 key means what (the engine is :mod:`ga_ee_bridge.readers._events`).

- ``index`` (0-based in Google's GA4 samples) becomes ``position = index + 1``: UA's ``position``
  is 1-based, and Exponea's ``position`` property keeps one meaning whatever the source.
- ``value`` excludes tax and shipping; UA's ``revenue`` includes them. ``value`` is kept as
  :attr:`ActionField.value <ga_ee_bridge.core.model.ActionField.value>` (property ``value``), and a
  purchase or refund gets ``revenue = value + tax + shipping`` only when all three were pushed:
  a missing tax is unknown, not zero.
- ``begin_checkout``, ``add_shipping_info`` and ``add_payment_info`` are checkout steps 1, 2 and
  3, with ``shipping_tier`` / ``payment_type`` as the step's option.
- ``view_cart`` and ``add_to_wishlist`` (and any other event carrying items) have no UA
  counterpart: they read as :attr:`Ecommerce.unsupported_event
  <ga_ee_bridge.core.model.Ecommerce.unsupported_event>`, every key listed as dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from marshmallow import ValidationError

from ga_ee_bridge.core.model import Ecommerce
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.readers._event_plan import event_plan
from ga_ee_bridge.readers._events import Dialect, EventSpec, event_schema, unsupported
from ga_ee_bridge.readers._fields import (
    Count,
    Currency,
    Identifier,
    LenientField,
    Money,
    Text,
    collecting,
    to_warnings,
)
from ga_ee_bridge.readers._plan import Slow

__all__ = [
    "EVENTS",
    "GA4",
    "ITEM_KEYS",
    "PARAM_KEYS",
    "UNSUPPORTED_EVENTS",
    "read_event",
]

# GA4 item key -> (role, field class), in the order of Google's item parameter table.
ITEM_KEYS: dict[str, tuple[str, type[LenientField]]] = {
    "item_id": ("id", Identifier),
    "item_name": ("name", Text),
    "coupon": ("coupon", Text),
    "index": ("position", Count),
    "item_brand": ("brand", Text),
    "item_category": ("category", Text),
    "item_category2": ("category2", Text),
    "item_category3": ("category3", Text),
    "item_category4": ("category4", Text),
    "item_category5": ("category5", Text),
    # Early GA4 guides spelt the levels with an underscore; the current spelling wins.
    "item_category_2": ("category2", Text),
    "item_category_3": ("category3", Text),
    "item_category_4": ("category4", Text),
    "item_category_5": ("category5", Text),
    "item_list_name": ("list", Text),
    "item_variant": ("variant", Text),
    "price": ("price", Money),
    "quantity": ("quantity", Count),
    "promotion_id": ("promo_id", Identifier),
    "promotion_name": ("promo_name", Text),
    "creative_name": ("creative", Text),
    "creative_slot": ("promo_position", Text),
}
# GA4 event parameter -> (role, field class).
PARAM_KEYS: dict[str, tuple[str, type[LenientField]]] = {
    "transaction_id": ("id", Identifier),
    "affiliation": ("affiliation", Text),
    "value": ("value", Money),
    "tax": ("tax", Money),
    "shipping": ("shipping", Money),
    "coupon": ("coupon", Text),
    "currency": ("currency", Currency),
    "item_list_name": ("list", Text),
    "promotion_id": ("promo_id", Identifier),
    "promotion_name": ("promo_name", Text),
    "creative_name": ("creative", Text),
    "creative_slot": ("promo_position", Text),
    "shipping_tier": ("shipping_tier", Text),
    "payment_type": ("payment_type", Text),
}
#: GA4 event -> the UA section it reads as (checkout steps numbered 1, 2, 3).
EVENTS: dict[str, EventSpec] = {
    "view_item_list": EventSpec("impressions"),
    "select_item": EventSpec("click"),
    "view_item": EventSpec("detail"),
    "add_to_cart": EventSpec("add"),
    "remove_from_cart": EventSpec("remove"),
    "view_promotion": EventSpec("promoView"),
    "select_promotion": EventSpec("promoClick"),
    "begin_checkout": EventSpec("checkout", step=1),
    "add_shipping_info": EventSpec("checkout", step=2, option_role="shipping_tier"),
    "add_payment_info": EventSpec("checkout", step=3, option_role="payment_type"),
    "purchase": EventSpec("purchase"),
    "refund": EventSpec("refund"),
}
#: GA4 ecommerce events with no UA Enhanced Ecommerce counterpart.
UNSUPPORTED_EVENTS: tuple[str, ...] = ("view_cart", "add_to_wishlist")

GA4 = Dialect(
    source="ga4",
    item_keys=ITEM_KEYS,
    param_keys=PARAM_KEYS,
    events=EVENTS,
    item_id_keys=("item_id", "item_name"),
    position_offset=1,
    computes_revenue=True,
)


def read_event(
    event: str,
    params: Mapping[str, Any],
    *,
    strict: bool = False,
    dialect: Dialect = GA4,
    kinds: tuple[str, ...] | None = None,
) -> Ecommerce:
    """Read one GA4 event's ``params`` (the dataLayer ``ecommerce`` object, or gtag's params).

    An event without a UA counterpart reads as ``unsupported_event``; an event whose section is
    not in ``kinds`` (default: every kind) reads as an empty model, unread. Values dropped in
    lenient mode are in ``warnings``, paths as pushed. Raises :class:`EcommerceError` with paths
    as pushed (``items[1].price``).
    """
    if event not in dialect.events:
        return unsupported(dialect, event, params)
    if kinds is not None:
        spec = dialect.events[event]
        if (spec.kind_of(params) if spec.kind_of else spec.kind) not in kinds:
            return Ecommerce(source=dialect.source)
    plan = event_plan(dialect, event, strict)
    if plan is not None:  # the hot path; what it cannot read exactly, the schema reads
        try:
            return plan(params)
        except (Slow, ValidationError):
            pass
    with collecting() as found:
        try:
            result: Ecommerce = event_schema(dialect, event, strict).load(params)
        except ValidationError as err:
            raise EcommerceError(err.messages) from None
    return replace(result, warnings=to_warnings(found)) if found else result
