"""The engine shared by the event-shaped forms (GA4, gtag.js): one event's params -> the model.

GA4 and gtag.js send ecommerce as a named event with flat parameters and an ``items`` list, where UA
nests sections under ``ecommerce``. A :class:`Dialect` says which parameter and item key means what;
the schemas here (built on :class:`~ga_ee_bridge.readers._schema.BaseSchema`, with the field classes
of :mod:`~ga_ee_bridge.readers._fields`) read the params, and :func:`build` turns them into the same
:class:`~ga_ee_bridge.core.model.Ecommerce` the UA reader makes. Error and dropped paths name the
keys as pushed (``items[1].price``), relative to the params object.

Internally every key is renamed to a *role*: ``id``, ``name``, ``brand``, ``category``, ``variant``,
``price``, ``quantity``, ``coupon``, ``position``, ``list`` and the promotion roles ``promo_id``,
``promo_name``, ``creative``, ``promo_position`` for items; ``id`` (order), ``affiliation``,
``revenue``, ``value``, ``tax``, ``shipping``, ``coupon``, ``currency``, ``list``, ``step``,
``option``, ``content_type`` and the promotion roles for params.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError

from ga_ee_bridge.core.model import (
    PROMOTION_KINDS,
    ActionField,
    Ecommerce,
    Impression,
    Product,
    Promotion,
    Section,
    maker,
)
from ga_ee_bridge.errors import show
from ga_ee_bridge.readers._fields import ItemList, LenientField, warn
from ga_ee_bridge.readers._schema import BaseSchema, blank

__all__ = [
    "CATEGORY_LEVELS", "IMPRESSION_USED", "LIST_KINDS", "NEEDS_ID", "NON_PRODUCT_KINDS",
    "PRODUCT_LIST_USED", "PRODUCT_USED", "Dialect", "EventSpec", "Item", "action_field_of",
    "build", "event_schema", "item_of", "key_of", "keys_read", "list_paths", "read_roles",
    "unused_keys",
]

#: Roles each model object takes from an item, in the model's field order.
PRODUCT_ROLES = ("id", "name", "brand", "category", "variant", "price", "quantity", "coupon",
                 "position")
IMPRESSION_ROLES = ("id", "name", "list", "brand", "category", "variant", "position", "price")
PROMOTION_ROLES = {"promo_id": "id", "promo_name": "name", "creative": "creative",
                   "promo_position": "position"}
#: Param roles that become actionField values in product sections.
ACTION_ROLES = ("id", "affiliation", "revenue", "value", "tax", "shipping", "coupon")
#: Kinds whose actionField carries a list name, as in UA (click and detail).
LIST_KINDS = frozenset({"click", "detail"})
#: Kinds that need an order id.
NEEDS_ID = frozenset({"purchase", "refund"})
#: The category levels, in order (GA4: ``item_category`` .. ``item_category5``).
CATEGORY_LEVELS = ("category", "category2", "category3", "category4", "category5")


@dataclass(frozen=True)
class EventSpec:
    """What one event name reads as: the section ``kind`` and, for checkout steps, the step.

    ``option_role`` names the param role that becomes ``actionField.option`` (e.g. GA4's
    ``shipping_tier``); ``step_role`` the role that overrides ``step`` (gtag's ``checkout_step``).
    ``kind_of`` picks the kind from the params when the name alone cannot (gtag's
    ``select_content``); it returns None for params that are no ecommerce at all.
    """

    kind: str
    step: int | None = None
    option_role: str | None = None
    step_role: str | None = None
    kind_of: Callable[[Mapping[str, Any]], str | None] | None = None


@dataclass(frozen=True, eq=False)
class Dialect:
    """One event-shaped form: its key tables, its events and what its ``value`` means.

    Compared by identity, so that schemas can be cached per dialect.
    """

    #: ``Ecommerce.source`` of what it reads.
    source: str
    #: item key -> (role, field class). Several keys may share a role; the first non-blank wins.
    item_keys: Mapping[str, tuple[str, type[LenientField]]]
    #: param key -> (role, field class).
    param_keys: Mapping[str, tuple[str, type[LenientField]]]
    #: event name -> how it reads.
    events: Mapping[str, EventSpec]
    #: The item keys of which one must be set (GA: an id or a name).
    item_id_keys: tuple[str, str]
    #: Added to the pushed position (GA4's 0-based ``index`` + 1 = UA's 1-based ``position``).
    position_offset: int = 0
    #: promotion key -> (role, field class) for a separate ``promotions`` list (UA gtag.js).
    promotion_keys: Mapping[str, tuple[str, type[LenientField]]] = field(default_factory=dict)
    #: GA4: a ``revenue`` is computed as value + tax + shipping for a purchase or refund.
    computes_revenue: bool = False

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        """Pickled by reference to the reader module's constant (dialects compare by identity)."""
        for name in ("ga_ee_bridge.readers.ga4", "ga_ee_bridge.readers.gtag"):
            module = sys.modules.get(name)
            for attr, value in vars(module).items() if module is not None else ():
                if value is self:
                    return _dialect_at, (name, attr)
        raise TypeError(f"a {self.source} dialect that no reader module holds cannot be pickled")


def _dialect_at(module: str, attr: str) -> Dialect:
    """The dialect held by ``module.attr`` (what unpickling a dialect calls)."""
    found: Dialect = getattr(importlib.import_module(module), attr)
    return found


# --- loaded items -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One loaded item (or promotion): typed values and pushed values by role, and its keys."""

    values: Mapping[str, Any]
    raw: Mapping[str, Any]
    #: role -> the key it was read from (roles with a non-blank value only).
    keys: Mapping[str, str]
    original: Mapping[str, Any]
    #: The dialect's table: key -> (role, field class).
    table: Mapping[str, tuple[str, type[LenientField]]]

    def unused(self, roles: frozenset[str]) -> tuple[str, ...]:
        """The pushed keys not read into any of ``roles`` (see :func:`unused_keys`)."""
        return unused_keys(self.table, self.keys, self.original, roles)


def unused_keys(table: Mapping[str, tuple[str, type[LenientField]]], keys: Mapping[str, str],
                original: Mapping[str, Any], roles: frozenset[str]) -> tuple[str, ...]:
    """An item's pushed keys not read into any of ``roles``: unknown keys, keys of other roles
    and a second spelling of a role already read (blank values are absent, never dropped).
    ``keys``: role -> the key it was read from.

    When every pushed key was read into a role of its own (the usual item), the answer depends
    only on the keys and ``roles``: it is kept for the next item with the same keys.
    """
    if len(keys) != len(original):  # an unknown, blank or second-spelled key
        return _unused(table, keys, original, roles)
    memo_key = (id(table), roles, tuple(original))
    memo = _UNUSED.get(memo_key)
    if memo is not None and memo[0] is table:
        return memo[1]
    found = _unused(table, keys, original, roles)
    if len(_UNUSED) < _UNUSED_LIMIT:
        _UNUSED[memo_key] = (table, found)
    return found


def _unused(table: Mapping[str, tuple[str, type[LenientField]]], keys: Mapping[str, str],
            original: Mapping[str, Any], roles: frozenset[str]) -> tuple[str, ...]:
    found = []
    for key, value in original.items():
        entry = table.get(key)
        if entry is None:
            found.append(key)
            continue
        role = entry[0]
        if _BASE_ROLES.get(role, role) not in roles or (
            keys.get(role, key) != key and not blank(value)
        ):
            found.append(key)
    return tuple(found)


#: :func:`unused_keys` of items whose every key was read: (id(table), roles, keys) -> (table,
#: the keys left out); bounded, as a shop pushes few shapes of item.
_UNUSED: dict[tuple[int, frozenset[str], tuple[str, ...]],
              tuple[Mapping[str, Any], tuple[str, ...]]] = {}
_UNUSED_LIMIT = 4096


#: ``category2``..``category5`` are levels of ``category``.
_BASE_ROLES = {level: "category" for level in CATEGORY_LEVELS}


def read_roles(
    by_key: Mapping[str, tuple[str, type[LenientField]]],
    data: dict[str, Any],
    original: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Typed values, pushed values and source keys by role; a role's first non-blank key (in the
    table's order) wins. Only the keys loaded are looked at: they are fewer than the table's."""
    known = _ORDERS.get(id(by_key))
    if known is None or known[0] is not by_key:
        known = _ORDERS[id(by_key)] = (by_key, {key: number for number, key in enumerate(by_key)})
    order = known[1]
    values: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for key, value in data.items():
        entry = by_key.get(key)
        if value is None or entry is None:
            continue
        role = entry[0]
        if role in values and order[keys[role]] < order[key]:
            continue
        values[role] = value
        raw[role] = original.get(key)
        keys[role] = key
    return values, raw, keys


#: id(table) -> (the table, key -> its place in it); holding the table keeps its id its own.
_ORDERS: dict[int, tuple[Mapping[str, Any], dict[str, int]]] = {}


class ItemSchema(BaseSchema):
    """One item of ``items`` (or of gtag's ``promotions``) -> :class:`Item`."""

    roles: ClassVar[Mapping[str, tuple[str, type[LenientField]]]]
    #: The keys of the ``position`` role.
    position_keys: ClassVar[tuple[str, ...]]
    #: Keys of which one must be set (empty: none required).
    id_keys: ClassVar[tuple[str, ...]]
    position_offset: ClassVar[int]

    def _validate(self, data: dict[str, Any], original: Mapping[str, Any]) -> None:
        errors: dict[str, list[str]] = {}
        if self.id_keys and all(
            self._absent(data, original, key, f"f_{key}") for key in self.id_keys
        ):
            first, second = self.id_keys
            errors["_schema"] = [
                f"needs an {first!r} or an {second!r}, found neither: {show(original)}"
            ]
        if self.position_offset:
            for key in self.position_keys:
                value = data.get(f"f_{key}")
                if value is not None and value < 0:
                    message = f"not a 0-based index: {show(original.get(key))}"
                    if self.strict:
                        errors[key] = [message]
                    else:
                        warn((key,), f"{message} (left out)", original.get(key))
                        data[f"f_{key}"] = None
        if errors:
            raise ValidationError(errors)

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> Item:
        values, raw, keys = read_roles(self.roles, _by_data_key(data), original)
        return item_of(self.roles, self.position_offset, values, raw, keys, original)


def item_of(
    table: Mapping[str, tuple[str, type[LenientField]]],
    position_offset: int,
    values: dict[str, Any],
    raw: dict[str, Any],
    keys: dict[str, str],
    original: Mapping[str, Any],
) -> Item:
    """The :class:`Item` of an item's values by role: the position made 1-based, the category
    levels joined. (An Item lives only while its event is read: nothing is copied or wrapped.)"""
    if "position" in values and position_offset:
        values["position"] += position_offset
        raw["position"] = values["position"]
    levels = [values.pop(level) for level in CATEGORY_LEVELS if level in values]
    if levels:
        raw_levels = [raw.pop(level) for level in CATEGORY_LEVELS if level in raw]
        values["category"] = "/".join(levels)
        raw["category"] = raw_levels[0] if len(raw_levels) == 1 else values["category"]
    return _make_item(values, raw, keys, original, table)


def _by_data_key(data: dict[str, Any]) -> dict[str, Any]:
    """Loaded values keyed by the pushed key (attribute names are ``f_<key>``)."""
    return {key[2:]: value for key, value in data.items() if key.startswith("f_")}


def _declare(
    table: Mapping[str, tuple[str, type[LenientField]]], strict: bool
) -> dict[str, Any]:
    return {f"f_{key}": cls(strict=strict, data_key=key) for key, (_, cls) in table.items()}


def item_schema(
    dialect: Dialect, strict: bool, *, promotions: bool = False, require_id: bool = True
) -> Schema:
    """The schema of one item (``promotions=True``: of one gtag.js promotion), built once.

    ``require_id``: one of the id keys must be set (GA4's promotion events carry items that
    may hold promotion fields only).
    """
    return _item_schema(dialect, strict, promotions, require_id)


@cache
def _item_schema(dialect: Dialect, strict: bool, promotions: bool, require_id: bool) -> Schema:
    """:func:`item_schema`, cached on positional arguments (also what unpickling calls)."""
    table = dialect.promotion_keys if promotions else dialect.item_keys
    declared = _declare(table, strict)
    id_keys = ("id", "name") if promotions else dialect.item_id_keys
    declared.update(
        roles=table, strict=strict, id_keys=id_keys if require_id else (),
        position_keys=tuple(key for key, (role, _) in table.items() if role == "position"),
        position_offset=0 if promotions else dialect.position_offset,
        rebuild=(_item_schema, (dialect, strict, promotions, require_id)),
    )
    name = f"{dialect.source.title()}{'Promotion' if promotions else 'Item'}Schema"
    return type(name, (ItemSchema,), declared)()


# --- the event ----------------------------------------------------------------------------------


class EventSchema(BaseSchema):
    """The params of one ecommerce event -> :class:`Ecommerce`."""

    dialect: ClassVar[Dialect]
    event: ClassVar[str]
    spec: ClassVar[EventSpec]

    def _kind(self, original: Mapping[str, Any]) -> str | None:
        return self.spec.kind_of(original) if self.spec.kind_of else self.spec.kind

    def _validate(self, data: dict[str, Any], original: Mapping[str, Any]) -> None:
        kind = self._kind(original)
        errors: dict[str, Any] = {}
        table = self.dialect.param_keys
        if kind in NEEDS_ID:
            key = key_of(table, "id")
            if self._absent(data, original, key, f"f_{key}"):
                errors[key] = [
                    f"missing: a {self.event} needs a {key}, found {show(original.get(key))}"
                ]
        if kind in PROMOTION_KINDS:
            params = _by_data_key(data)
            values, raw, _ = read_roles(table, params, original)
            found = _promotions(
                params.get("items") or (), params.get("promotions") or (), values, raw
            )
            if not found or any(p.id is None and p.name is None for p in found):
                key = "promotions" if self.dialect.promotion_keys else key_of(table, "promo_id")
                errors.setdefault(key, []).append(
                    f"missing: every promotion of a {self.event} needs an id or a name, found "
                    f"{show([dict(p.raw) for p in found])}"
                )
        if errors:
            raise ValidationError(errors)

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> Ecommerce:
        return build(self.dialect, self.event, self.spec, self._kind(original),
                     _by_data_key(data), original)


def key_of(table: Mapping[str, tuple[str, type[LenientField]]], role: str) -> str:
    """The first key of ``table`` read into ``role`` (the one error messages name)."""
    return next(key for key, (name, _) in table.items() if name == role)


@cache
def event_schema(dialect: Dialect, event: str, strict: bool) -> Schema:
    """The schema of ``event``'s params in ``dialect``, built once per mode."""
    declared = _declare(dialect.param_keys, strict)
    spec = dialect.events[event]
    require_id = spec.kind not in PROMOTION_KINDS or bool(dialect.promotion_keys)
    declared["f_items"] = ItemList(
        item_schema(dialect, strict, require_id=require_id), strict=strict, data_key="items"
    )
    if dialect.promotion_keys:
        declared["f_promotions"] = ItemList(
            item_schema(dialect, strict, promotions=True), strict=strict, data_key="promotions"
        )
    declared.update(dialect=dialect, event=event, spec=spec, strict=strict,
                    rebuild=(event_schema, (dialect, event, strict)))
    return type(f"{dialect.source.title()}{event.title()}Schema", (EventSchema,), declared)()


def unsupported(dialect: Dialect, event: str, original: Mapping[str, Any]) -> Ecommerce:
    """An event with no UA counterpart: no section, every key listed as dropped."""
    return Ecommerce(
        source=dialect.source, unsupported_event=event, dropped_keys=tuple(original),
    )


def build(
    dialect: Dialect,
    event: str,
    spec: EventSpec,
    kind: str | None,
    params: dict[str, Any],
    original: Mapping[str, Any],
) -> Ecommerce:
    """The model of one event's loaded ``params`` (keyed as pushed) as section ``kind``."""
    if kind is None:
        return unsupported(dialect, event, original)
    values, raw, keys = read_roles(dialect.param_keys, params, original)
    item_dropped: list[str] = []
    items: tuple[Item, ...] = params.get("items") or ()
    section_items: list[Product | Impression | Promotion] = []
    action_field = _NO_ACTION_FIELD
    if kind == "impressions":
        for index, item in enumerate(items):
            unused = item.unused(IMPRESSION_USED)
            section_items.append(_impression(item, values, raw, unused))
            item_dropped.extend(list_paths("items", index, unused))
    elif kind in PROMOTION_KINDS:
        promotions: tuple[Item, ...] = params.get("promotions") or ()
        section_items.extend(_promotions(items, promotions, values, raw))
        for index, item in enumerate(items):
            item_dropped.extend(list_paths("items", index, item.unused(PROMOTION_USED)))
        for index, item in enumerate(promotions):
            item_dropped.extend(list_paths("promotions", index, item.unused(PROMOTION_USED)))
    else:
        first_list = next((item.values["list"] for item in items if "list" in item.values),
                          None) if kind in LIST_KINDS and not values.get("list") else None
        action_field, chosen_list = action_field_of(dialect, spec, kind, values, raw, first_list)
        if kind != "checkout_option":  # a checkout option carries no products in UA
            for index, item in enumerate(items):
                unused = item.unused(PRODUCT_USED)
                section_items.append(_product(item, unused))
                if chosen_list is not None and item.values.get("list") == chosen_list:
                    unused = item.unused(PRODUCT_LIST_USED)
                item_dropped.extend(list_paths("items", index, unused))
    used_keys = keys_read(dialect, spec, kind)
    top = [key for key in original if key not in used_keys]
    currency_key = keys.get("currency")
    section = Section(
        kind=kind,
        action_field=action_field,
        items=tuple(section_items),
        has_products=bool(section_items) and kind not in NON_PRODUCT_KINDS,
    )
    return Ecommerce(
        currency_code=values.get("currency"),
        raw_currency_code=original.get(currency_key) if currency_key else None,
        sections=MappingProxyType({kind: section}),
        dropped_keys=(*top, *item_dropped),
        source=dialect.source,
    )


def keys_read(dialect: Dialect, spec: EventSpec, kind: str) -> frozenset[str]:
    """The event's param keys that section ``kind`` reads (the others are dropped), built once."""
    memo_key = (id(dialect), id(spec), kind)
    known = _KEYS_READ.get(memo_key)
    if known is not None and known[0] is dialect and known[1] is spec:
        return known[2]
    used_roles: set[str] = {"currency"}
    used_keys: set[str] = {"items"}
    if spec.kind_of is not None:
        used_roles.add("content_type")
    if kind == "impressions":
        used_roles.add("list")
    elif kind in PROMOTION_KINDS:
        used_roles.update(PROMOTION_ROLES)
        used_keys.add("promotions")
    else:
        used_roles.update(ACTION_ROLES if kind in NEEDS_ID else _NON_ORDER_ROLES)
        used_roles.update(role for role in (spec.step_role, spec.option_role) if role)
        if kind in LIST_KINDS:
            used_roles.add("list")
        if kind == "checkout_option":
            used_keys.discard("items")
    used_keys.update(key for key, (role, _) in dialect.param_keys.items() if role in used_roles)
    found = frozenset(used_keys)
    _KEYS_READ[memo_key] = (dialect, spec, found)
    return found


_KEYS_READ: dict[tuple[int, int, str], tuple[Dialect, EventSpec, frozenset[str]]] = {}


def list_paths(list_key: str, index: int, keys: tuple[str, ...]) -> list[str]:
    """The dropped paths of ``keys`` of one list entry: ``items[2].sku``."""
    return [f"{list_key}[{index}].{key}" for key in keys]


def action_field_of(
    dialect: Dialect,
    spec: EventSpec,
    kind: str,
    values: Mapping[str, Any],
    raw: Mapping[str, Any],
    first_list: str | None,
) -> tuple[ActionField, str | None]:
    """The actionField of a product section (or checkout option), and the list name it took:
    the event's, else ``first_list`` (the first item's that has one)."""
    roles = ACTION_ROLES if kind in NEEDS_ID else _NON_ORDER_ROLES
    typed = {role: values[role] for role in roles if role in values}
    pushed = {role: raw[role] for role in roles if role in raw}
    chosen: str | None = None
    if kind in LIST_KINDS:  # the event's list, else the first item's (GA4 and gtag put it there)
        chosen = values.get("list") or first_list
        if chosen is not None:
            typed["list"] = chosen
            pushed["list"] = raw.get("list", chosen)
    step = values.get(spec.step_role) if spec.step_role else None
    if step is None:
        step = spec.step
    if step is not None:
        typed["step"] = pushed["step"] = step
    if spec.option_role and spec.option_role in values:
        typed["option"] = values[spec.option_role]
        pushed["option"] = raw[spec.option_role]
    if (
        dialect.computes_revenue
        and kind in NEEDS_ID
        and all(values.get(role) is not None for role in ("value", "tax", "shipping"))
    ):
        typed["revenue"] = round(values["value"] + values["tax"] + values["shipping"], 6)
    return ActionField(raw=MappingProxyType(pushed), **typed), chosen


_NO_ACTION_FIELD = ActionField()
PRODUCT_USED = frozenset(PRODUCT_ROLES)
PRODUCT_LIST_USED = PRODUCT_USED | {"list"}
IMPRESSION_USED = frozenset(IMPRESSION_ROLES)
PROMOTION_USED = frozenset(PROMOTION_ROLES)
#: Outside purchase and refund, UA gtag.js's ``value`` (its revenue) has no place: it is dropped.
_NON_ORDER_ROLES = tuple(role for role in ACTION_ROLES if role != "revenue")
NON_PRODUCT_KINDS = frozenset({"impressions", *PROMOTION_KINDS})


def _product(item: Item, unused: tuple[str, ...]) -> Product:
    """The product of an item; ``unused``: its keys left out (``item.unused(PRODUCT_USED)``)."""
    get = item.values.get
    raw = {role: item.raw[role] for role in PRODUCT_ROLES if role in item.raw}
    return _make_product(
        MappingProxyType(raw), _NO_CUSTOM, unused, *[get(role) for role in PRODUCT_ROLES]
    )


_make_item = maker(Item)
#: Product's fields are raw, custom, dropped, then PRODUCT_ROLES in order (a test pins it).
_make_product = maker(Product)
_NO_CUSTOM: Mapping[str, Any] = MappingProxyType({})


def _impression(item: Item, params: Mapping[str, Any], params_raw: Mapping[str, Any],
                unused: tuple[str, ...]) -> Impression:
    item_values, item_raw = item.values, item.raw
    raw = {role: item_raw[role] for role in IMPRESSION_ROLES if role in item_raw}
    values = [item_values.get(role) for role in IMPRESSION_ROLES]
    if "list" not in item_values and "list" in params:  # GA4: item-level list wins, else event's
        values[_IMPRESSION_LIST] = params["list"]
        raw["list"] = params_raw["list"]
    return _make_impression(MappingProxyType(raw), _NO_CUSTOM, unused, *values)


#: Impression's fields are raw, custom, dropped, then IMPRESSION_ROLES in order (a test pins it).
_make_impression = maker(Impression)
_IMPRESSION_LIST = IMPRESSION_ROLES.index("list")


def _promotions(
    items: tuple[Item, ...],
    promotions: tuple[Item, ...],
    params: Mapping[str, Any],
    params_raw: Mapping[str, Any],
) -> list[Promotion]:
    """One promotion per distinct (id, name, creative, position), in pushed order.

    gtag.js (UA) lists them under ``promotions``; GA4 sets them on the event and/or on items,
    where an item's own value wins over the event's (Google's rule). Items carrying no promotion
    field, or no items, give the event-level promotion.
    """
    sources: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = [
        (p.values, p.raw) for p in promotions
    ]
    for item in items:
        if any(role in item.values for role in PROMOTION_ROLES):
            sources.append(({**params, **item.values}, {**params_raw, **item.raw}))
    if not sources and any(role in params for role in PROMOTION_ROLES):
        sources.append((params, params_raw))
    seen: set[tuple[Any, ...]] = set()
    result: list[Promotion] = []
    for values, raw in sources:
        fields = {name: values[role] for role, name in PROMOTION_ROLES.items() if role in values}
        identity = tuple(fields.get(name) for name in PROMOTION_ROLES.values())
        if identity in seen:
            continue
        seen.add(identity)
        raws = {name: raw[role] for role, name in PROMOTION_ROLES.items() if role in raw}
        result.append(Promotion(raw=MappingProxyType(raws), **fields))
    return result
