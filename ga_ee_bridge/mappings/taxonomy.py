"""The event taxonomy of Exponea's web SDK ``trackEnhancedEcommerce`` (v3.15.0), as data.

Both built-in mappings follow it: which events a section yields, in which order, and which GA field
becomes which event property. They differ only in how a value is read (see ``sdk`` / ``sdk_exact``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from ga_ee_bridge.core.events import TrackEvent
from ga_ee_bridge.core.limits import MAX_PROFILE_ATTRIBUTES
from ga_ee_bridge.core.model import (
    PROMOTION_KINDS,
    ActionField,
    Ecommerce,
    FieldObject,
    Section,
    maker,
)
from ga_ee_bridge.errors import EcommerceError

__all__ = [
    "ACTION_FIELD_PROPERTIES",
    "IMPRESSION_PROPERTIES",
    "ITEM_PROPERTIES",
    "PRODUCT_PROPERTIES",
    "PROMOTION_PROPERTIES",
    "SECTION_EVENTS",
    "Shared",
    "SplitEvent",
    "TaxonomyMapping",
    "copier",
    "section_events",
    "too_many_properties",
    "typed",
    "typed_currency",
]

#: kind -> (event per product/impression/promotion, summary event after them).
SECTION_EVENTS: dict[str, tuple[str | None, str | None]] = {
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

# (GA key, Exponea property), in the order the SDK copies them.
ACTION_FIELD_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("id", "transaction_id"),
    ("affiliation", "affiliation"),
    ("revenue", "revenue"),
    ("value", "value"),
    ("tax", "tax"),
    ("shipping", "shipping"),
    ("coupon", "coupon"),
    ("list", "list"),
    ("step", "step"),
    ("option", "option"),
)
PRODUCT_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("id", "product_id"),
    ("name", "name"),
    ("brand", "brand"),
    ("category", "category"),
    ("variant", "variant"),
    ("price", "price"),
    ("quantity", "quantity"),
    ("coupon", "coupon"),
    ("position", "position"),
)
IMPRESSION_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("id", "product_id"),
    ("name", "name"),
    ("price", "price"),
    ("brand", "brand"),
    ("category", "category"),
    ("variant", "variant"),
    ("list", "list"),
    ("position", "position"),
)
PROMOTION_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("id", "promo_id"),
    ("name", "name"),
    ("creative", "creative"),
    ("position", "position"),
)
#: kind -> the item properties of its events.
ITEM_PROPERTIES: dict[str, tuple[tuple[str, str], ...]] = {
    kind: (
        IMPRESSION_PROPERTIES if kind == "impressions"
        else PROMOTION_PROPERTIES if kind in PROMOTION_KINDS
        else PRODUCT_PROPERTIES
    )
    for kind in SECTION_EVENTS
}
#: The profile's attribute limit (core.limits), which this mapping keeps per event too.
MAX_PROPERTIES = MAX_PROFILE_ATTRIBUTES
#: The refund summary's extra property: "partial" with products, else "full".
REFUND_TYPE = "refund_type"

#: How a mapping reads one GA field: the value to send, or None to leave the property out.
Reader = Callable[[FieldObject, str], Any]


def typed(source: FieldObject, key: str) -> Any:
    """The reader of the typed values (the ``sdk`` mapping's): the model's attribute itself."""
    return getattr(source, key)


def typed_currency(ecommerce: Ecommerce) -> Any:
    """The typed currency code (the ``sdk`` mapping's ``currency_code``)."""
    return ecommerce.currency_code


#: Events are made without a second check of what the table gives (a valid type, a fresh dict).
_event = maker(TrackEvent)


class Shared:
    """The properties a section's events share (``tracked_via``, the currency, its actionField's)
    and, once an encoder made it, their JSON: encoded once for all the section's items."""

    __slots__ = ("json", "open", "properties")

    def __init__(self, properties: dict[str, Any]):
        self.properties = properties
        #: ``dumps(properties)`` and it without its ``}``, followed by ``, `` (None until made).
        self.json: str | None = None
        self.open: str | None = None


class SplitEvent:
    """An event in its parts, for the converter (``split=True`` of :func:`section_events` and
    of the compiled UA mapping): the section's :class:`Shared` properties, then the item's own
    (None for the section's summary event). The two have no key in common, so the whole is
    ``shared | item`` in that order, and its JSON is theirs joined: the shared part is encoded
    once a section, not once an item."""

    __slots__ = ("event_type", "item", "shared")

    def __init__(self, event_type: str, shared: Shared, item: dict[str, Any] | None):
        self.event_type = event_type
        self.shared = shared
        self.item = item

    def properties_dict(self) -> dict[str, Any]:
        """A new dict of the properties, as :meth:`TrackEvent.properties_dict` gives them."""
        item = self.item
        return self.shared.properties.copy() if item is None else self.shared.properties | item


def section_events(
    section: Section,
    *,
    currency: Any,
    tracked_via: str,
    read: Reader,
    keep_custom: bool,
    split: bool = False,
) -> list[Any]:
    """The events of one section, in the SDK's order: one per item, then the summary event.

    ``split``: :class:`SplitEvent` s (the same properties, the section's shared ones apart, for
    the converter's encoders) instead of :class:`TrackEvent` s.
    """
    item_event, summary_event = SECTION_EVENTS[section.kind]
    base: dict[str, Any] = {"tracked_via": tracked_via}
    if currency is not None:
        base["currency_code"] = currency
    if section.kind != "impressions" and section.kind not in PROMOTION_KINDS:
        copier(ACTION_FIELD_PROPERTIES, read)(base, section.action_field)
    events: list[Any] = []
    proxy = MappingProxyType
    shared = Shared(base) if split else None
    if item_event is not None:
        copy = copier(ITEM_PROPERTIES[section.kind], read)
        for index, item in enumerate(section.items):
            if shared is not None:
                own: dict[str, Any] = {}
                copy(own, item)
                if keep_custom and item.custom:
                    own.update(item.custom)
                if base.keys().isdisjoint(own):
                    if keep_custom and item.custom and len(base) + len(own) > MAX_PROPERTIES:
                        raise too_many_properties(section.kind, index, len(base) + len(own))
                    events.append(SplitEvent(item_event, shared, own))
                    continue
                properties = base | own  # a shared key keeps its place, the item's value
            else:
                properties = base.copy()
                copy(properties, item)
                if keep_custom and item.custom:
                    properties.update(item.custom)
            if keep_custom and item.custom and len(properties) > MAX_PROPERTIES:
                raise too_many_properties(section.kind, index, len(properties))
            events.append(SplitEvent(item_event, Shared(properties), None) if split
                          else _event(item_event, proxy(properties), None))
    if summary_event is not None:
        if section.kind == "refund":  # a dict of its own: the items' shared one stays as it is
            base = {**base, REFUND_TYPE: "partial" if section.has_products else "full"}
            shared = Shared(base) if split else None
        events.append(SplitEvent(summary_event, shared, None) if shared is not None
                      else _event(summary_event, proxy(base), None))
    return events


def too_many_properties(kind: str, index: int, count: int) -> EcommerceError:
    """The error for an item whose custom keys take an event past the API's property limit."""
    message = (
        f"{count} properties with its custom dimensions and metrics; "
        f"Exponea takes at most {MAX_PROPERTIES}"
    )
    if kind == "impressions":
        return EcommerceError({kind: {index: [message]}})
    list_key = "promotions" if kind in PROMOTION_KINDS else "products"
    return EcommerceError({kind: {list_key: {index: [message]}}})


@cache
def copier(
    table: tuple[tuple[str, str], ...], read: Reader
) -> Callable[[dict[str, Any], FieldObject | ActionField], None]:
    """``copy(target, source)``: the properties of ``table`` that ``read`` gives (None left out),
    in table order; for :func:`typed`, every attribute in one ``attrgetter`` call."""
    if read is typed and len(table) > 1:  # (one key: attrgetter gives no tuple)
        names = tuple(name for _, name in table)
        get = attrgetter(*(key for key, _ in table))

        def copy_typed(target: dict[str, Any], source: FieldObject | ActionField) -> None:
            for name, value in zip(names, get(source), strict=True):
                if value is not None:
                    target[name] = value

        return copy_typed

    def copy(target: dict[str, Any], source: FieldObject | ActionField) -> None:
        for key, name in table:
            value = read(source, key)
            if value is not None:
                target[name] = value

    return copy


@dataclass(frozen=True)
class TaxonomyMapping:
    """A mapping on the web SDK's taxonomy: what differs is only how values are read.

    ``read`` gives a field's value (None leaves the property out), ``currency`` the
    ``currency_code`` value, ``keep_custom`` whether ``dimensionN``/``metricN`` are sent.
    """

    name: str
    tracked_via: str
    read: Reader
    currency: Callable[[Ecommerce], Any]
    keep_custom: bool
    #: Whether the mapping reads the raw UA object (``events_raw``): never, for this one.
    reads_raw: bool = False

    def events(
        self, ecommerce: Ecommerce, kinds: tuple[str, ...], *, tracked_via: str,
        split: bool = False,
    ) -> list[Any]:
        """The events of every section of ``kinds`` present in ``ecommerce``, in ``kinds`` order
        (``split``: as :class:`SplitEvent` s, for the converter)."""
        currency = self.currency(ecommerce)
        events: list[Any] = []
        for kind in kinds:
            section = ecommerce.sections.get(kind)
            if section is not None:
                events.extend(
                    section_events(
                        section, currency=currency, tracked_via=tracked_via, read=self.read,
                        keep_custom=self.keep_custom, split=split,
                    )
                )
        return events
