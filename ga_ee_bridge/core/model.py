"""The parsed model every reader feeds: typed, immutable Enhanced Ecommerce data.

Each field object keeps its typed values (what the ``sdk`` mapping sends) and, in ``raw``, the
values exactly as pushed (what the web SDK itself sends, for the ``sdk-exact`` mapping).
``dropped`` names the keys a reader did not understand, so that nothing vanishes unseen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from types import MappingProxyType
from typing import Any

from ga_ee_bridge.errors import EcommerceError

__all__ = [
    "KINDS",
    "PRODUCT_KINDS",
    "PROMOTION_KINDS",
    "SOURCES",
    "ActionField",
    "Ecommerce",
    "FieldObject",
    "Impression",
    "Product",
    "Promotion",
    "ReadWarning",
    "Section",
    "item_path",
    "maker",
    "merge_section_errors",
]

#: The section names of GA's ``ecommerce`` object, in the order the web SDK sends them.
KINDS: tuple[str, ...] = (
    "impressions",
    "click",
    "detail",
    "add",
    "remove",
    "promoView",
    "promoClick",
    "checkout",
    "checkout_option",
    "purchase",
    "refund",
)
#: Sections whose items are products (with an actionField).
PRODUCT_KINDS: tuple[str, ...] = (
    "click", "detail", "add", "remove", "checkout", "purchase", "refund"
)
#: Sections whose items are promotions.
PROMOTION_KINDS: tuple[str, ...] = ("promoView", "promoClick")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldObject:
    """What every GA field object has: the values as pushed, unknown keys and custom metrics."""

    #: The object as pushed (read-only), for mappings that must copy values unchanged.
    raw: Mapping[str, Any] = field(default_factory=_empty)
    #: Custom ``dimensionN`` (text) and ``metricN`` (number) values, in pushed order.
    custom: Mapping[str, str | float] = field(default_factory=_empty)
    #: Keys the reader did not understand and left out.
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Product(FieldObject):
    """A productFieldObject: one line of a click, detail, cart, checkout, purchase or refund."""

    id: str | None = None
    name: str | None = None
    brand: str | None = None
    category: str | None = None
    variant: str | None = None
    price: float | None = None
    quantity: int | None = None
    coupon: str | None = None
    position: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Impression(FieldObject):
    """An impressionFieldObject: a product seen in a list."""

    id: str | None = None
    name: str | None = None
    list: str | None = None
    brand: str | None = None
    category: str | None = None
    variant: str | None = None
    position: int | None = None
    price: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Promotion(FieldObject):
    """A promoFieldObject: an internal promotion; ``position`` is text such as ``"slot1"``."""

    id: str | None = None
    name: str | None = None
    creative: str | None = None
    position: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionField(FieldObject):
    """An actionFieldObject: the order or step a section's products belong to.

    ``revenue`` is UA's total, tax and shipping included (GA sums the lines when it is absent).
    ``value`` is GA4's ``value``, which excludes tax and shipping; the GA4 readers set ``revenue``
    only where it can be computed honestly (``value + tax + shipping``, all three pushed), so the
    two meanings never mix.
    """

    id: str | None = None
    affiliation: str | None = None
    revenue: float | None = None
    #: GA4's event ``value``: the items' total without tax and shipping (None for UA data).
    value: float | None = None
    tax: float | None = None
    shipping: float | None = None
    coupon: str | None = None
    list: str | None = None
    step: int | None = None
    option: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """One section of the ``ecommerce`` object (``kind`` is a name from :data:`KINDS`).

    ``items`` holds products, impressions or promotions, as the kind has them.
    """

    kind: str
    action_field: ActionField = field(default_factory=ActionField)
    items: tuple[Product | Impression | Promotion, ...] = ()
    #: Keys of the section object the reader did not understand.
    dropped: tuple[str, ...] = ()
    #: True when the section held a product list (a refund with products is partial).
    has_products: bool = False


#: The forms a push can come in (:attr:`Ecommerce.source`).
SOURCES: tuple[str, ...] = ("ua", "ga4", "gtag")


@dataclass(frozen=True, slots=True)
class ReadWarning:
    """A value the lenient reader could not use and left out: where, why, and what it was.

    ``path`` is relative to the object read (``detail.products[0].brand``); the event is kept.
    """

    path: str
    message: str
    value: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ecommerce:
    """A parsed ``ecommerce`` object: the currency and the sections present, in KINDS order."""

    currency_code: str | None = None
    sections: Mapping[str, Section] = field(default_factory=_empty)
    #: The ``currencyCode`` as pushed, for mappings that copy values unchanged.
    raw_currency_code: Any = None
    #: Keys of the ecommerce object the reader did not understand. The UA reader lists top-level
    #: keys only (:attr:`dropped` adds the section and item paths); readers of other forms list
    #: every path in the form read (``items[0].discount``), which :attr:`dropped` returns as is.
    dropped_keys: tuple[str, ...] = ()
    #: The form the data was read from: ``"ua"`` (GTM dataLayer EE), ``"ga4"``, ``"gtag"``...
    source: str = "ua"
    #: The GA4 / gtag.js ecommerce event read that has no UA Enhanced Ecommerce counterpart
    #: (``view_cart``, ``add_to_wishlist``...): it yields no section, and its keys are all in
    #: :attr:`dropped`. A converter counts it as a skip reason.
    unsupported_event: str | None = None
    #: Values read leniently that could not be used and were left out (the events are kept).
    warnings: tuple[ReadWarning, ...] = ()
    #: Sections that could not be read, each with its error (an ``EcommerceError`` whose paths
    #: start at the section, e.g. ``add.products[0].quantity``); the other sections are kept.
    section_errors: tuple[tuple[str, EcommerceError], ...] = ()

    def __iter__(self) -> Iterator[Section]:
        return iter(self.sections.values())

    def section(self, kind: str) -> Section | None:
        """The section of ``kind``, or None when the object has none."""
        return self.sections.get(kind)

    @property
    def dropped(self) -> tuple[str, ...]:
        """Paths of every key left out, e.g. ``purchase.products[0].sku`` (empty when none)."""
        if self.source != "ua":
            return self.dropped_keys
        paths = list(self.dropped_keys)
        for section in self.sections.values():
            if section.dropped:
                paths.extend(f"{section.kind}.{key}" for key in section.dropped)
            action_keys = section.action_field.dropped
            if action_keys:
                paths.extend(f"{section.kind}.actionField.{key}" for key in action_keys)
            for index, item in enumerate(section.items):
                if item.dropped:
                    prefix = item_path(section.kind, index)
                    paths.extend(f"{prefix}.{key}" for key in item.dropped)
        return tuple(paths)


def item_path(kind: str, index: int) -> str:
    """The UA path of a section's item: ``purchase.products[2]``, ``impressions[0]``..."""
    if kind == "impressions":
        return f"impressions[{index}]"
    return f"{kind}.{'promotions' if kind in PROMOTION_KINDS else 'products'}[{index}]"


def merge_section_errors(errors: Iterable[tuple[str, EcommerceError]]) -> EcommerceError:
    """One :class:`EcommerceError` holding every section's errors (when no section is left)."""
    messages: dict[str | int, Any] = {}
    for _, error in errors:
        messages.update(error.messages)
    return EcommerceError(messages)


@cache
def maker(cls: type[Any]) -> Callable[..., Any]:
    """A constructor of the frozen dataclass ``cls`` taking every field positionally, in field
    order, for the readers' hot paths.

    It sets the slots directly, as the generated ``__init__`` does, but without matching keyword
    arguments or filling defaults: about three times faster. The values are the caller's to have
    checked.
    """
    names = [spec.name for spec in fields(cls)]
    env: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = [f"def make({', '.join(names)}):", "    self = new(cls)"]
    for name in names:
        env[f"set_{name}"] = getattr(cls, name).__set__
        lines.append(f"    set_{name}(self, {name})")
    lines.append("    return self")
    exec("\n".join(lines), env)
    make: Callable[..., Any] = env["make"]
    make.__qualname__ = f"maker({cls.__name__})"
    return make
