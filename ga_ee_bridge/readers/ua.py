"""Universal Analytics Enhanced Ecommerce, the GTM dataLayer form: marshmallow schemas -> model.

One schema per GA field object, built once for lenient and once for strict reading. The field tables
below are the only place that says which GA key has which type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

from marshmallow import Schema, ValidationError

from ga_ee_bridge.core.model import (
    KINDS,
    PRODUCT_KINDS,
    PROMOTION_KINDS,
    ActionField,
    Ecommerce,
    FieldObject,
    Impression,
    Product,
    Promotion,
    Section,
    merge_section_errors,
)
from ga_ee_bridge.errors import EcommerceError, show
from ga_ee_bridge.readers._fields import (
    Count,
    Currency,
    Identifier,
    ItemList,
    LenientField,
    Money,
    Obj,
    Text,
    collecting,
    to_warnings,
    warn,
)
from ga_ee_bridge.readers._plan import EcommercePlan, Slow, ecommerce_plan
from ga_ee_bridge.readers._renamed import custom_value
from ga_ee_bridge.readers._schema import BaseSchema, blank

__all__ = [
    "ACTION_FIELD_TYPES",
    "IMPRESSION_TYPES",
    "PRODUCT_TYPES",
    "PROMOTION_TYPES",
    "FieldSchemas",
    "compiled_plan",
    "field_schemas",
    "is_flat_product",
    "read_ecommerce",
    "schema",
]

# GA key -> field class, in the order of Google's developer guide.
PRODUCT_TYPES: dict[str, type[LenientField]] = {
    "id": Identifier,
    "name": Text,
    "brand": Text,
    "category": Text,
    "variant": Text,
    "price": Money,
    "quantity": Count,
    "coupon": Text,
    "position": Count,
}
IMPRESSION_TYPES: dict[str, type[LenientField]] = {
    "id": Identifier,
    "name": Text,
    "list": Text,
    "brand": Text,
    "category": Text,
    "variant": Text,
    "position": Count,
    "price": Money,
}
PROMOTION_TYPES: dict[str, type[LenientField]] = {
    "id": Identifier,
    "name": Text,
    "creative": Text,
    "position": Text,
}
ACTION_FIELD_TYPES: dict[str, type[LenientField]] = {
    "id": Identifier,
    "affiliation": Text,
    "revenue": Money,
    "tax": Money,
    "shipping": Money,
    "coupon": Text,
    "list": Text,
    "step": Count,
    "option": Text,
}

_CUSTOM = re.compile(r"(dimension|metric)([1-9][0-9]*)")
#: Kinds whose actionField must carry the order id.
_NEEDS_ID = frozenset({"purchase", "refund"})


class _FieldObjectSchema(BaseSchema):
    """Loads one GA field object into ``model``; keeps raw values, custom keys and dropped keys."""

    model: ClassVar[type[FieldObject]]
    keeps_custom: ClassVar[bool] = True
    needs_id_or_name: ClassVar[bool] = False
    #: The unknown keys that are custom dimensions and metrics (``dimension1``, ``metric2``).
    custom_key: ClassVar[re.Pattern[str]] = _CUSTOM

    def _validate(self, data: dict[str, Any], original: Mapping[str, Any]) -> None:
        errors: dict[str, list[str]] = {}
        if (
            self.needs_id_or_name
            and self._absent(data, original, "id")
            and self._absent(data, original, "name")
        ):
            errors["_schema"] = [f"needs an 'id' or a 'name', found neither: {show(original)}"]
        known = self._by_key
        unknown = [key for key in original if key not in known]
        custom: dict[str, str | float] = {}
        if unknown and self.keeps_custom:
            for key in unknown:
                value = original[key]
                if blank(value) or not self.custom_key.fullmatch(key):
                    continue
                try:
                    custom[key] = custom_value(key, value, strict=self.strict)
                except ValidationError as err:
                    if self.strict:
                        errors[key] = [str(err)]
                    else:
                        warn((key,), f"{err} (left out)", value)
        if errors:
            raise ValidationError(errors)
        data["\0unknown"] = (unknown, custom)

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> FieldObject:
        unknown, custom = data.pop("\0unknown")
        if unknown and self.keeps_custom:
            unknown = [key for key in unknown if not self.custom_key.fullmatch(key)]
        return self.model(
            raw=MappingProxyType(dict(original)),
            custom=MappingProxyType(custom) if custom else _NO_CUSTOM,
            dropped=tuple(unknown),
            **data,
        )


_NO_CUSTOM: Mapping[str, str | float] = MappingProxyType({})


def _object_schema(
    name: str, model: type[FieldObject], types: dict[str, type[LenientField]], *,
    strict: bool, keeps_custom: bool, needs_id_or_name: bool,
) -> Schema:
    declared: dict[str, Any] = {
        key: field_cls(strict=strict, data_key=key) for key, field_cls in types.items()
    }
    declared.update(
        model=model, strict=strict, keeps_custom=keeps_custom, needs_id_or_name=needs_id_or_name
    )
    return type(name, (_FieldObjectSchema,), declared)()


class _SectionSchema(BaseSchema):
    """One action section (``purchase``, ``detail``, ``promoView``...) -> :class:`Section`."""

    kind: ClassVar[str]
    list_key: ClassVar[str | None]
    #: The actionField must carry the order id (purchase, refund).
    needs_id: ClassVar[bool]

    def _is_flat(self, data: Any) -> bool:
        """gtm4wp pushes ``detail: {id, name, ...}``: one product where a section belongs."""
        return self.list_key == "products" and isinstance(data, Mapping) and is_flat_product(data)

    def _prepare(self, data: Any) -> Any:
        if self._is_flat(data):
            if self.strict:
                raise ValidationError(
                    "expected {'products': [...]}, got a product object (lenient mode would read "
                    f"it as one product): {show(data)}"
                )
            return {"products": [data]}
        return data

    def _validate(self, data: dict[str, Any], original: Mapping[str, Any]) -> None:
        if not self.needs_id:
            return
        action_field = original.get("actionField")
        if not isinstance(action_field, Mapping):
            if blank(action_field):
                raise ValidationError(
                    {"actionField": [f"missing: a {self.kind} needs actionField.id"]}
                )
            if self.strict:
                return  # the field itself reports a non-object
            raise ValidationError({"actionField": [
                f"not an object: a {self.kind} needs actionField.id, found {show(action_field)}"
            ]})
        value = action_field.get("id")
        loaded = data.get("actionField")
        if blank(value) or (not self.strict and (loaded is None or loaded.id is None)):
            message = f"missing: a {self.kind} needs an id, found {show(value)}"
            raise ValidationError({"actionField": {"id": [message]}})

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> Section:
        items = data.get(self.list_key) if self.list_key else None
        known = self._by_key
        dropped = () if self._is_flat(original) else tuple(k for k in original if k not in known)
        return Section(
            kind=self.kind,
            action_field=data.get("actionField") or _NO_ACTION_FIELD,
            items=items or (),
            dropped=dropped,
            has_products=bool(items) and self.list_key == "products",
        )


_NO_ACTION_FIELD = ActionField()


def is_flat_product(section: Mapping[str, Any]) -> bool:
    """A product section object that is one product itself (``{id, name, ...}``, no list)."""
    return (
        "products" not in section
        and "actionField" not in section
        and ("id" in section or "name" in section)
    )


def _section_schema(
    kind: str, *, strict: bool, list_key: str | None, items: Schema | None, action_field: Schema
) -> Schema:
    declared: dict[str, Any] = {
        "kind": kind, "strict": strict, "list_key": list_key, "needs_id": kind in _NEEDS_ID,
    }
    if kind not in PROMOTION_KINDS:
        declared["actionField"] = Obj(action_field, strict=strict, data_key="actionField")
    if list_key and items is not None:
        declared[list_key] = ItemList(items, strict=strict, data_key=list_key)
    return type(f"{kind}SectionSchema", (_SectionSchema,), declared)()


class _EcommerceSchema(BaseSchema):
    """The ``ecommerce`` object: ``currencyCode`` and the sections of :data:`KINDS`."""

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> Ecommerce:
        sections: dict[str, Section] = {}
        for kind in KINDS:
            value = data.get(kind)
            if value is None:
                continue
            if kind == "impressions":
                value = Section(kind=kind, items=value)
            sections[kind] = value
        known = self._by_key
        return Ecommerce(
            currency_code=data.get("currencyCode"),
            raw_currency_code=original.get("currencyCode"),
            sections=MappingProxyType(sections),
            dropped_keys=tuple(key for key in original if key not in known),
        )


class FieldSchemas(NamedTuple):
    """The schemas of UA's field objects, for other forms with UA's keys (analytics.js)."""

    product: Schema
    impression: Schema
    promotion: Schema
    action_field: Schema


@cache
def field_schemas(strict: bool = False) -> FieldSchemas:
    """The field object schemas, built once per mode: ``.product.load(obj)`` -> ``Product``."""
    tag = "Strict" if strict else "Lenient"
    return FieldSchemas(
        product=_object_schema(
            f"{tag}ProductSchema", Product, PRODUCT_TYPES, strict=strict, keeps_custom=True,
            needs_id_or_name=True,
        ),
        impression=_object_schema(
            f"{tag}ImpressionSchema", Impression, IMPRESSION_TYPES, strict=strict,
            keeps_custom=True, needs_id_or_name=True,
        ),
        promotion=_object_schema(
            f"{tag}PromotionSchema", Promotion, PROMOTION_TYPES, strict=strict,
            keeps_custom=False, needs_id_or_name=True,
        ),
        action_field=_object_schema(
            f"{tag}ActionFieldSchema", ActionField, ACTION_FIELD_TYPES, strict=strict,
            keeps_custom=False, needs_id_or_name=False,
        ),
    )


@cache
def schema(strict: bool = False) -> Schema:
    """The ``ecommerce`` schema, built once per mode: ``schema().load(obj)`` -> ``Ecommerce``."""
    tag = "Strict" if strict else "Lenient"
    product, impression, promotion, action_field = field_schemas(strict)
    declared: dict[str, Any] = {
        "currencyCode": Currency(strict=strict, data_key="currencyCode"),
        "impressions": ItemList(impression, strict=strict, data_key="impressions"),
        "strict": strict,
    }
    for kind in KINDS[1:]:
        if kind in PRODUCT_KINDS:
            list_key, items = "products", product
        elif kind in PROMOTION_KINDS:
            list_key, items = "promotions", promotion
        else:  # checkout_option: actionField only
            list_key, items = None, None
        declared[kind] = Obj(
            _section_schema(
                kind, strict=strict, list_key=list_key, items=items, action_field=action_field
            ),
            strict=strict,
            data_key=kind,
        )
    return type(f"{tag}EcommerceSchema", (_EcommerceSchema,), declared)()


_KNOWN_KEYS = frozenset({"currencyCode", *KINDS})


#: The compiled plans by mode (see :mod:`._plan`), made on first use.
_PLANS: dict[bool, EcommercePlan] = {}


def compiled_plan(strict: bool = False) -> EcommercePlan:
    """The compiled plan of :func:`schema` (``plan(ecommerce_dict, kinds)``; see :mod:`._plan`)."""
    plan = _PLANS.get(strict)
    if plan is None:
        plan = _PLANS[strict] = ecommerce_plan(schema(strict), flat=is_flat_product)
    return plan


@cache
def _wanted(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """``kinds`` in :data:`KINDS` order."""
    return tuple(kind for kind in KINDS if kind in kinds)


def read_ecommerce(
    ecommerce: Mapping[str, Any], *, strict: bool = False, kinds: tuple[str, ...] | None = None
) -> Ecommerce:
    """Read a UA ``ecommerce`` object section by section: a bad section never costs the others.

    Only the sections of ``kinds`` (default: all) are read. A section that cannot be read goes to
    :attr:`Ecommerce.section_errors` (its error's paths start at the section) and the others are
    kept; values dropped in lenient mode go to :attr:`Ecommerce.warnings`. Raises
    :class:`EcommerceError` (every section's errors at once) when a section fails in strict mode,
    or when every section read failed.
    """
    wanted = KINDS if kinds is None or kinds is KINDS else _wanted(tuple(kinds))
    if type(ecommerce) is dict:
        try:
            return compiled_plan(strict)(ecommerce, wanted)
        except (Slow, ValidationError):
            pass  # read again through the schemas: the warnings, or every error at once
    loader = schema(strict)
    by_kind = loader.fields
    sections: dict[str, Section] = {}
    errors: list[tuple[str, EcommerceError]] = []
    with collecting() as found:
        currency = original_currency = ecommerce.get("currencyCode")
        if currency is not None:
            try:
                currency = by_kind["currencyCode"]._deserialize(currency, "currencyCode", ecommerce)
            except ValidationError as err:
                errors.append(("currencyCode", EcommerceError({"currencyCode": err.messages})))
                currency = None
        for kind in wanted:
            value = ecommerce.get(kind)
            if value is None:
                continue
            since = len(found)
            try:
                if not (type(value) is dict or isinstance(value, Mapping)) and not (
                    kind == "impressions" and isinstance(value, list | tuple)
                ):
                    raise ValidationError([f"not an object: {show(value)}"])
                loaded = by_kind[kind]._deserialize(value, kind, ecommerce)
            except ValidationError as err:
                del found[since:]
                errors.append((kind, EcommerceError({kind: err.messages})))
                continue
            if kind == "impressions":
                loaded = Section(kind=kind, items=loaded)
            sections[kind] = loaded
    if errors and (strict or not sections):
        raise merge_section_errors(errors)
    return Ecommerce(
        currency_code=currency,
        raw_currency_code=original_currency,
        sections=MappingProxyType(sections),
        dropped_keys=tuple(key for key in ecommerce if key not in _KNOWN_KEYS)
        if not _KNOWN_KEYS.issuperset(ecommerce) else (),
        warnings=to_warnings(found),
        section_errors=tuple(errors),
    )
