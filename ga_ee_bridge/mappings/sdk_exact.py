"""``sdk-exact``: byte for byte what the web SDK v3.15.0 sends, quirks included.

For UA ``ecommerce`` objects it reads the raw object itself, step by step as the SDK's
``trackEnhancedEcommerce`` does (:meth:`SdkExactMapping.events_raw`), never through the validating
readers: values as pushed, copied only when JavaScript calls them truthy, only the SDK's listed
fields, numbers as JavaScript prints them, ``tracked_via: eecommerce``. Where the SDK throws,
:class:`~ga_ee_bridge.errors.SdkThrewError` carries the events it sent first. Other forms (GA4,
gtag.js, Measurement Protocol, BigQuery) are read into the model first (:meth:`events`); the
byte-for-byte promise is for UA ``ecommerce`` objects, checked against recordings of the real SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ga_ee_bridge.core.events import EventList, TrackEvent
from ga_ee_bridge.core.model import KINDS, PROMOTION_KINDS, Ecommerce, FieldObject, ReadWarning
from ga_ee_bridge.errors import SdkThrewError, format_path, show
from ga_ee_bridge.mappings._javascript import js_truthy, js_value
from ga_ee_bridge.mappings.taxonomy import (
    ACTION_FIELD_PROPERTIES,
    IMPRESSION_PROPERTIES,
    PRODUCT_PROPERTIES,
    PROMOTION_PROPERTIES,
    REFUND_TYPE,
    SECTION_EVENTS,
    TaxonomyMapping,
)

__all__ = ["QUIRKS", "SDK_EXACT", "SdkExactMapping", "js_truthy"]

#: Every way the web SDK's ``trackEnhancedEcommerce`` differs from a clean reading of GA data:
#: (what is pushed, what the SDK sends). ``docs/mapping.md`` lists them from here.
QUIRKS: tuple[tuple[str, str], ...] = (
    ("a falsy value: `0`, `0.0`, `\"\"`, `false`, `null`",
     "left out (`\"0\"`, `\"0.00\"`, `\"false\"`, `[]` and `{}` are truthy and kept)"),
    ("any truthy value (`\"15.25\"`, `1.5` as quantity, `\"top\"`, `true`, a list, an object)",
     "copied as pushed, of whatever JSON type"),
    ("a number", "as JavaScript prints it: `15.0` -> `15`, `1e16` -> `10000000000000000`, "
     "`1e21` -> `1e+21`; integers beyond 2**53 round to the nearest double "
     "(`12345678901234567891` -> `12345678901234567000`); beyond the double range -> `null`"),
    ("an object value", "its keys in JavaScript's order: array-index keys (`\"1\"`, `\"2\"`) "
     "first, in numeric order"),
    ("`dimensionN`, `metricN`, `sku`, any other key", "left out (a product-level `list` too: only "
     "impressions have one)"),
    ("a product with neither `id` nor `name`; a purchase or refund without `actionField.id`",
     "sent anyway: the product events and a bare `transaction` / `refund`"),
    ("a section that is truthy but not an object (`{\"purchase\": true}`, `\"T1\"`, `[...]`)",
     "no product events; `checkout`, `checkout_option`, `transaction`, `refund` (`\"full\"`) "
     "still sent, with the currency only"),
    ("an `actionField` that is not an object (`\"T1\"`, `5`, `[]`) or `null`",
     "contributes nothing; the events are sent"),
    ("a section without `products` / `promotions`, or with a falsy one",
     "no item events; the summary event is still sent"),
    ("`refund` with `products: []`", "`refund_type: \"partial\"` (an empty array is truthy), "
     "no `product_refund`"),
    ("`products`, `promotions` or `impressions` that is truthy but not a list (one object, "
     "`\"abc\"`, `5`, `true`)",
     "the SDK throws (`forEach is not a function`) before that section's events"),
    ("a `null` item in a list", "the SDK throws (`Cannot read properties of null`) after "
     "sending the items before it"),
    ("an item that is not an object (`5`, `\"abc\"`, `[]`, `true`)",
     "an event with `tracked_via` and the section's shared properties only"),
    ("an object with a `hasOwnProperty` key (the ecommerce object, a section's actionField, an "
     "item)", "the SDK throws (`hasOwnProperty is not a function`) when it reads that object"),
    ("a throw under `kind=\"all\"`", "the sections after the throwing one are not sent"),
    ("an unknown kind (`\"Purchase\"`, `\"\"`)", "nothing sent (a warning on the result)"),
    ("an `ecommerce` that is not an object (`[]`, `\"...\"`, `5`, `null`)",
     "the SDK throws (`Invalid type of argument 0`): nothing sent"),
    ("a `kind` that is not text", "the SDK throws (`Invalid type of argument 1`): nothing sent"),
    ("`tracked_via`", "`\"eecommerce\"`, as v3.15.0 sends it (the docs say `\"ecommerce\"`; "
     "`tracked_via=` overrides it)"),
)

_CURRENCY: tuple[tuple[str, str], ...] = (("currencyCode", "currency_code"),)
#: The SDK's actionField list: no GA4 ``value`` (that one exists only in the model path).
_ACTION: tuple[tuple[str, str], ...] = tuple(p for p in ACTION_FIELD_PROPERTIES if p[0] != "value")
_ITEMS: dict[str, tuple[tuple[str, str], ...]] = {
    "impressions": IMPRESSION_PROPERTIES,
    **{kind: PROMOTION_PROPERTIES for kind in PROMOTION_KINDS},
}
_ACTION_KEYS = frozenset(key for key, _ in _ACTION)
_PRODUCT_KEYS = frozenset(key for key, _ in PRODUCT_PROPERTIES)
_ITEM_KEYS = {kind: frozenset(key for key, _ in table) for kind, table in _ITEMS.items()}
#: The keys the SDK reads in each section object.
_SECTION_KEYS_OF: dict[str, frozenset[str]] = {
    kind: frozenset(("promotions",)) if kind in PROMOTION_KINDS
    else frozenset(("actionField",)) if kind == "checkout_option"
    else frozenset(("actionField", "products"))
    for kind in KINDS
}
_TOP_KEYS = frozenset((*KINDS, "currencyCode"))
_NULL_READ = "TypeError: Cannot read properties of null (reading 'hasOwnProperty')"
_OWN_OVERRIDDEN = "TypeError: hasOwnProperty is not a function (the object has a key of that name)"
_UNDEFINED: Any = object()  # JavaScript's undefined: a key that is absent, or a property of text


class _Throw(Exception):
    """Where the SDK's code throws, and what it throws."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _get(value: Any, key: str) -> Any:
    """``value[key]`` in JavaScript, for the keys the SDK reads (none exists on non-objects)."""
    if type(value) is dict or isinstance(value, Mapping):
        return value.get(key, _UNDEFINED)
    return _UNDEFINED


def _truthy(value: Any) -> bool:
    """JavaScript truthiness, where an absent key is ``undefined`` (falsy)."""
    return value is not _UNDEFINED and js_truthy(value)


def _is_nullish(value: Any) -> bool:
    return value is None or value is _UNDEFINED


class _Run:
    """One ``trackEnhancedEcommerce`` call: the events sent so far and the keys left out."""

    def __init__(self, ecommerce: Mapping[str, Any], tracked_via: str) -> None:
        self.ecommerce = ecommerce
        self.tracked_via = tracked_via
        self.events: list[TrackEvent] = []
        self.dropped: list[str] = [k for k in ecommerce if k not in _TOP_KEYS]

    def copy(self, target: dict[str, Any], source: Any, table: tuple[tuple[str, str], ...],
             path: tuple[str | int, ...]) -> None:
        """The SDK's copy: each listed key the source has as its own, when its value is truthy."""
        if source is None:
            raise _Throw(format_path(path) or "ecommerce", _NULL_READ)
        if type(source) is not dict and not isinstance(source, Mapping):
            return  # text, numbers, true and lists have none of these keys as their own
        if "hasOwnProperty" in source:
            raise _Throw(format_path((*path, "hasOwnProperty")), _OWN_OVERRIDDEN)
        for key, name in table:
            value = source.get(key, _UNDEFINED)
            if value is _UNDEFINED:
                continue
            if type(value) is str:  # the common case, first
                if value:
                    target[name] = value
            elif js_truthy(value):
                target[name] = js_value(value)

    def send(self, event_type: str, properties: dict[str, Any]) -> None:
        self.events.append(TrackEvent(event_type, {"tracked_via": self.tracked_via, **properties}))

    def shared(self, action: Any, kind: str) -> dict[str, Any]:
        """The currency, then the actionField fields: what every event of a section starts with."""
        properties: dict[str, Any] = {}
        self.copy(properties, self.ecommerce, _CURRENCY, ())
        self.copy(properties, action, _ACTION, (kind, "actionField"))
        return properties

    def items(self, kind: str, values: Any, path: tuple[str | int, ...]) -> list[Any]:
        """``values.forEach(...)``: a list, or the SDK throws."""
        if not isinstance(values, list):
            raise _Throw(format_path(path), f"TypeError: {format_path(path)}.forEach is not a "
                         f"function (it is {show(values)}, not a list)")
        return values

    def note_unknown(self, source: Any, allowed: frozenset[str],
                     path: tuple[str | int, ...]) -> None:
        if isinstance(source, Mapping):
            self.dropped.extend(format_path((*path, k)) for k in source if k not in allowed)

    def product_action(self, kind: str) -> None:
        """``trackProductAction``: one event per product, each with the actionField's fields."""
        section = _get(self.ecommerce, kind)
        if not _truthy(section):
            return
        products = _get(section, "products")
        if not _truthy(products):
            return
        action = _get(section, "actionField")
        action = {} if _is_nullish(action) else action
        event_type = SECTION_EVENTS[kind][0]
        assert event_type is not None
        allowed = _PRODUCT_KEYS
        for index, product in enumerate(self.items(kind, products, (kind, "products"))):
            properties = self.shared(action, kind)
            self.copy(properties, product, PRODUCT_PROPERTIES, (kind, "products", index))
            self.note_unknown(product, allowed, (kind, "products", index))
            self.send(event_type, properties)

    def listed(self, kind: str) -> None:
        """``trackProductImpressions`` / ``trackPromotionAction``: one event per item."""
        path: tuple[str, ...] = (kind,)
        if kind == "impressions":
            values = _get(self.ecommerce, kind)
        else:
            section = _get(self.ecommerce, kind)
            if not _truthy(section):
                return
            values, path = _get(section, "promotions"), (kind, "promotions")
        if not _truthy(values):
            return
        event_type = SECTION_EVENTS[kind][0]
        assert event_type is not None
        table = _ITEMS[kind]
        allowed = _ITEM_KEYS[kind]
        for index, item in enumerate(self.items(kind, values, path)):
            properties: dict[str, Any] = {}
            self.copy(properties, self.ecommerce, _CURRENCY, ())
            self.copy(properties, item, table, (*path, index))
            self.note_unknown(item, allowed, (*path, index))
            self.send(event_type, properties)

    def summary(self, kind: str) -> None:
        """``trackCheckout`` / ``trackCheckoutOption`` / ``trackPurchase`` / ``trackRefund``."""
        section = _get(self.ecommerce, kind)
        if not _truthy(section):
            return
        summary_event = SECTION_EVENTS[kind][1]
        assert summary_event is not None
        if kind in ("checkout", "purchase"):
            self.product_action(kind)
        action = _get(section, "actionField")
        action = {} if _is_nullish(action) else action
        properties = self.shared(action, kind)
        if kind == "refund":
            if _truthy(_get(section, "products")):
                properties[REFUND_TYPE] = "partial"
                self.product_action(kind)
            else:
                properties[REFUND_TYPE] = "full"
        self.send(summary_event, properties)

    def section(self, kind: str) -> None:
        """One section, as the SDK's method for it."""
        value = _get(self.ecommerce, kind)
        if kind != "impressions" and isinstance(value, Mapping):
            self.note_unknown(value, _SECTION_KEYS_OF[kind], (kind,))
            action = value.get("actionField")
            if kind not in PROMOTION_KINDS:
                self.note_unknown(action, _ACTION_KEYS, (kind, "actionField"))
        if kind == "impressions" or kind in PROMOTION_KINDS:
            self.listed(kind)
        elif SECTION_EVENTS[kind][1] is None:
            self.product_action(kind)
        else:
            self.summary(kind)


def _as_pushed(source: FieldObject, key: str) -> Any:
    if key == "value" and getattr(source, "value", None) is None:
        return None  # GA4's value: read only where a reader understood it, never from UA data
    value = source.raw.get(key)
    return js_value(value) if js_truthy(value) else None


def _currency_as_pushed(ecommerce: Ecommerce) -> Any:
    currency = ecommerce.raw_currency_code
    return js_value(currency) if js_truthy(currency) else None


@dataclass(frozen=True)
class SdkExactMapping:
    """``sdk-exact``: the raw UA object read as the SDK reads it; the model for other forms."""

    name: str = "sdk-exact"
    tracked_via: str = "eecommerce"
    #: The converter hands this mapping the raw UA ``ecommerce`` object (:meth:`events_raw`).
    reads_raw: bool = True

    def events(
        self, ecommerce: Ecommerce, kinds: tuple[str, ...], *, tracked_via: str
    ) -> list[TrackEvent]:
        """Events of a parsed model (GA4, gtag.js, MP, BigQuery): values as the reader kept them."""
        return _MODEL.events(ecommerce, kinds, tracked_via=tracked_via)

    def events_raw(
        self, ecommerce: Any, kinds: tuple[str, ...], *, tracked_via: str
    ) -> EventList:
        """What ``exponea.trackEnhancedEcommerce(ecommerce, kind)`` sends, for each of ``kinds``.

        ``ecommerce`` is the raw UA ``ecommerce`` object (JSON values). Sections are walked in the
        SDK's order; an unknown kind sends nothing (a warning says so). Raises
        :class:`SdkThrewError` where the SDK throws (an ``ecommerce`` that is not an object
        included), with the events it sent before.
        """
        for kind in kinds:
            if not isinstance(kind, str):
                raise SdkThrewError([
                    "the web SDK throws Error: Invalid type of argument 1 - kind when calling "
                    f"exponea.trackEnhancedEcommerce, expected string but got {show(kind)}; "
                    "nothing is sent"])
        warnings = tuple(
            ReadWarning(path="", message=f"unknown kind {kind!r}: the web SDK sends nothing for "
                        f"it (kinds: 'all', {', '.join(KINDS)})", value=kind)
            for kind in kinds if kind not in KINDS
        )
        if not isinstance(ecommerce, Mapping):
            raise SdkThrewError([
                "the web SDK throws Error: Invalid type of argument 0 - ecommerceObject when "
                f"calling exponea.trackEnhancedEcommerce, expected object but got "
                f"{_js_type(ecommerce)}: {show(ecommerce)}; nothing is sent"])
        run = _Run(ecommerce, tracked_via)
        for kind in KINDS:
            if kind not in kinds:
                continue
            try:
                run.section(kind)
            except _Throw as threw:
                raise _error(threw, kind, kinds, ecommerce, run.events) from None
        return EventList(run.events, dropped=tuple(run.dropped), warnings=warnings)


def _js_type(value: Any) -> str:
    """The type the SDK's argument check names: object, array, null, string, number, boolean."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else type(value).__name__


def _error(threw: _Throw, kind: str, kinds: tuple[str, ...], ecommerce: Mapping[str, Any],
           events: list[TrackEvent]) -> SdkThrewError:
    after = [k for k in KINDS[KINDS.index(kind) + 1:]
             if k in kinds and js_truthy(ecommerce.get(k))]
    sent = f"after sending {len(events)} event{'s' if len(events) != 1 else ''}"
    rest = f"; the sections after it ({', '.join(after)}) are not sent" if after else ""
    message = f"the web SDK throws {threw.message} {sent}{rest}"
    return SdkThrewError({threw.path: [message]} if threw.path else [message],
                         events=tuple(events))


_MODEL = TaxonomyMapping(
    name="sdk-exact", tracked_via="eecommerce", read=_as_pushed, currency=_currency_as_pushed,
    keep_custom=False,
)
SDK_EXACT = SdkExactMapping()
