"""``bloomreach``: Bloomreach's recommended ecommerce events (``view_item``, ``cart_update``...).

What Bloomreach's own connectors send and its recommendations, abandoned-cart scenarios and catalog
linkage read. Values typed as in ``sdk``; impressions, product clicks and promotions, which have no
recommended counterpart, are the ``sdk`` mapping's events unchanged. :data:`EVENTS` and
:data:`PROPERTIES` say which events each kind yields and where each property comes from;
``docs/mapping.md`` is generated from them and the tests hold every event to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ga_ee_bridge.core.events import TrackEvent
from ga_ee_bridge.core.model import Ecommerce, Product, Section
from ga_ee_bridge.mappings.sdk import SDK
from ga_ee_bridge.mappings.taxonomy import MAX_PROPERTIES, too_many_properties

__all__ = ["BLOOMREACH", "EVENTS", "PROPERTIES", "SDK_KINDS", "BloomreachMapping", "categories"]

#: Kinds with no recommended event: the ``sdk`` mapping's events, unchanged.
SDK_KINDS: tuple[str, ...] = ("impressions", "click", "promoView", "promoClick")

#: kind -> (event per product line, summary event after the lines).
EVENTS: dict[str, tuple[str | None, str | None]] = {
    "detail": ("view_item", None),
    "add": ("cart_update", None),
    "remove": ("cart_update", None),
    "checkout": (None, "checkout"),
    "checkout_option": (None, "checkout"),
    "purchase": ("purchase_item", "purchase"),
    "refund": ("purchase_item", "purchase"),
}

#: A product line's fields: (GA product key, property), in event order.
_PRODUCT_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "product_id"), ("name", "title"), ("brand", "brand"), ("variant", "variant"),
    ("price", "price"),
)
_CATEGORY_ROWS: tuple[tuple[str, str], ...] = (
    ("category_1`..`category_N", "`products[].category` split on `/`, parts trimmed"),
    ("categories_path", "the same parts joined with ` > `"),
)
_PRODUCT_ROWS: tuple[tuple[str, str], ...] = (
    *((name, f"`products[].{key}`") for key, name in _PRODUCT_FIELDS), *_CATEGORY_ROWS,
)
_LINE_ROWS: tuple[tuple[str, str], ...] = (
    ("product_list", '`[{"product_id", "quantity"}]`, one entry a line (unknown keys left out)'),
    ("product_ids", "the `product_id` of each entry of `product_list`"),
    ("total_quantity", "the sum of the `quantity` values in `product_list`"),
)


def _order_rows(status: str) -> tuple[tuple[str, str], ...]:
    return (("purchase_id", "`actionField.id`"), ("purchase_status", f'`"{status}"`'))


def _summary_rows(status: str) -> tuple[tuple[str, str], ...]:
    return (
        *_order_rows(status),
        ("total_price", "`actionField.revenue`; else GA4 `value`; else the lines' "
         "`price` x `quantity` summed, when every line has both"),
        ("tax_value", "`actionField.tax`"), ("shipping_cost", "`actionField.shipping`"),
        ("voucher_code", "`actionField.coupon`"),
        ("purchase_source_name", "`actionField.affiliation`"),
        *_LINE_ROWS, ("local_currency", "`currencyCode`"),
    )


def _item_rows(status: str) -> tuple[tuple[str, str], ...]:
    return (
        *_order_rows(status), *_PRODUCT_ROWS, ("quantity", "`products[].quantity`"),
        ("total_price", "`price` x `quantity`, when both are known"),
        ("voucher_code", "`products[].coupon`"), ("local_currency", "`currencyCode`"),
    )


_CUSTOM_ROW = ("dimensionN` / `metricN", "`products[].dimensionN` / `metricN`, same name")
_CHECKOUT_ROWS: tuple[tuple[str, str], ...] = (
    ("step_number", "`actionField.step`"), ("step_title", "`actionField.option`"),
)

#: (kind, event) -> its properties in event order, each with where its value comes from. Every
#: event also starts with ``tracked_via`` (the mapping's, ``"ecommerce"``).
PROPERTIES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("detail", "view_item"): (
        *_PRODUCT_ROWS, ("local_currency", "`currencyCode`"), ("list", "`actionField.list`"),
        _CUSTOM_ROW,
    ),
    **{
        (kind, "cart_update"): (
            ("action", f'`"{kind}"`'), *_PRODUCT_ROWS, ("local_currency", "`currencyCode`"),
            ("list", "`actionField.list`"), ("quantity", "`products[].quantity`"),
            ("product_list", '`[{"product_id", "quantity"}]` of that line'),
            ("product_ids", "`[product_id]` of that line"),
            ("total_quantity", "`quantity`"),
            ("total_price", "`price` x `quantity`, when both are known"), _CUSTOM_ROW,
        )
        for kind in ("add", "remove")
    },
    ("checkout", "checkout"): (
        *_CHECKOUT_ROWS, *_LINE_ROWS,
        ("total_price", "the lines' `price` x `quantity` summed, when every line has both"),
    ),
    ("checkout_option", "checkout"): _CHECKOUT_ROWS,
    ("purchase", "purchase_item"): (*_item_rows("success"), _CUSTOM_ROW),
    ("purchase", "purchase"): _summary_rows("success"),
    ("refund", "purchase_item"): (*_item_rows("refund"), _CUSTOM_ROW),
    ("refund", "purchase"): _summary_rows("refund"),
}
_ACTION = {"add": "add", "remove": "remove"}
_STATUS = {"purchase": "success", "refund": "refund"}


def categories(category: str | None) -> dict[str, Any]:
    """``category_1``..``category_N`` and ``categories_path`` of a GA ``Apparel/Men/Shirts``."""
    if category is None:
        return {}
    parts = [part.strip() for part in category.split("/")]
    parts = [part for part in parts if part]
    if not parts:
        return {}
    out: dict[str, Any] = {f"category_{n}": part for n, part in enumerate(parts, 1)}
    out["categories_path"] = " > ".join(parts)
    return out


def _number(value: Decimal) -> float | int:
    """A Decimal total as JSON wants it: an integer when whole, else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def _line_total(product: Product) -> Decimal | None:
    """``price`` x ``quantity`` in decimal arithmetic (10.01 x 3 is 30.03), None when unknown."""
    if product.price is None or product.quantity is None:
        return None
    return Decimal(repr(product.price)) * product.quantity


def _lines_total(products: Iterable[Product]) -> float | int | None:
    total = Decimal(0)
    lines = 0
    for product in products:
        line = _line_total(product)
        if line is None:
            return None
        total += line
        lines += 1
    return _number(total) if lines else None


def _put(target: dict[str, Any], name: str, value: Any) -> None:
    if value is not None and value != [] and value != {}:
        target[name] = value


def _product_fields(target: dict[str, Any], product: Product) -> None:
    for key, name in _PRODUCT_FIELDS:
        _put(target, name, getattr(product, key))
    target.update(categories(product.category))


def _lines(target: dict[str, Any], products: tuple[Product, ...]) -> None:
    """``product_list``, ``product_ids`` and ``total_quantity`` of ``products``."""
    product_list = []
    for product in products:
        entry: dict[str, Any] = {}
        _put(entry, "product_id", product.id)
        _put(entry, "quantity", product.quantity)
        if entry:
            product_list.append(entry)
    _put(target, "product_list", product_list)
    _put(target, "product_ids", [entry["product_id"] for entry in product_list
                                 if "product_id" in entry])
    quantities = [entry["quantity"] for entry in product_list if "quantity" in entry]
    if quantities:
        target["total_quantity"] = sum(quantities)


def _custom(target: dict[str, Any], section: Section, index: int, product: Product) -> None:
    if product.custom:
        target.update(product.custom)
        if len(target) > MAX_PROPERTIES:
            raise too_many_properties(section.kind, index, len(target))


def _products(section: Section) -> tuple[Product, ...]:
    return tuple(item for item in section.items if isinstance(item, Product))


def _view_item(section: Section, product: Product, base: dict[str, Any],
               currency: str | None) -> dict[str, Any]:
    properties = dict(base)
    _product_fields(properties, product)
    _put(properties, "local_currency", currency)
    _put(properties, "list", section.action_field.list)
    return properties


def _cart_update(section: Section, product: Product, base: dict[str, Any],
                 currency: str | None) -> dict[str, Any]:
    properties = {**base, "action": _ACTION[section.kind]}
    _product_fields(properties, product)
    _put(properties, "local_currency", currency)
    _put(properties, "list", section.action_field.list)
    _put(properties, "quantity", product.quantity)
    _lines(properties, (product,))
    total = _line_total(product)
    _put(properties, "total_price", None if total is None else _number(total))
    return properties


def _purchase_item(section: Section, product: Product, base: dict[str, Any],
                   currency: str | None) -> dict[str, Any]:
    properties = dict(base)
    _put(properties, "purchase_id", section.action_field.id)
    properties["purchase_status"] = _STATUS[section.kind]
    _product_fields(properties, product)
    _put(properties, "quantity", product.quantity)
    total = _line_total(product)
    _put(properties, "total_price", None if total is None else _number(total))
    _put(properties, "voucher_code", product.coupon)
    _put(properties, "local_currency", currency)
    return properties


def _checkout(section: Section, base: dict[str, Any], currency: str | None) -> dict[str, Any]:
    action = section.action_field
    properties = dict(base)
    _put(properties, "step_number", action.step)
    _put(properties, "step_title", action.option)
    if section.kind == "checkout":
        products = _products(section)
        _lines(properties, products)
        _put(properties, "total_price", _lines_total(products))
    return properties


def _purchase(section: Section, base: dict[str, Any], currency: str | None) -> dict[str, Any]:
    action = section.action_field
    products = _products(section)
    properties = dict(base)
    _put(properties, "purchase_id", action.id)
    properties["purchase_status"] = _STATUS[section.kind]
    total = action.revenue if action.revenue is not None else action.value
    _put(properties, "total_price", total if total is not None else _lines_total(products))
    _put(properties, "tax_value", action.tax)
    _put(properties, "shipping_cost", action.shipping)
    _put(properties, "voucher_code", action.coupon)
    _put(properties, "purchase_source_name", action.affiliation)
    _lines(properties, products)
    _put(properties, "local_currency", currency)
    return properties


_LINE_BUILDERS = {
    "view_item": _view_item, "cart_update": _cart_update, "purchase_item": _purchase_item,
}
_SUMMARY_BUILDERS = {"checkout": _checkout, "purchase": _purchase}


@dataclass(frozen=True)
class BloomreachMapping:
    """Bloomreach's recommended events (see the module docstring and :data:`PROPERTIES`)."""

    name: str = "bloomreach"
    tracked_via: str = "ecommerce"

    def events(
        self, ecommerce: Ecommerce, kinds: tuple[str, ...], *, tracked_via: str
    ) -> list[TrackEvent]:
        """The events of every section of ``kinds`` present in ``ecommerce``, in ``kinds`` order:
        per line first, the summary last."""
        events: list[TrackEvent] = []
        for kind in kinds:
            section = ecommerce.sections.get(kind)
            if section is None:
                continue
            if kind in SDK_KINDS:
                events.extend(SDK.events(ecommerce, (kind,), tracked_via=tracked_via))
                continue
            events.extend(self._section(section, ecommerce.currency_code, tracked_via))
        return events

    @staticmethod
    def _section(section: Section, currency: str | None, tracked_via: str) -> list[TrackEvent]:
        line_event, summary_event = EVENTS[section.kind]
        base: dict[str, Any] = {"tracked_via": tracked_via}
        events = []
        if line_event is not None:
            build = _LINE_BUILDERS[line_event]
            for index, product in enumerate(_products(section)):
                properties = build(section, product, base, currency)
                _custom(properties, section, index, product)
                events.append(TrackEvent(line_event, properties))
        if summary_event is not None:
            events.append(TrackEvent(summary_event,
                                     _SUMMARY_BUILDERS[summary_event](section, base, currency)))
        return events


BLOOMREACH = BloomreachMapping()
