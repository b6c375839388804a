"""Measurement Protocol v1 hits (query strings) -> the model, with the hit's customer and time.

A hit is one query string (``v=1&tid=...&pa=purchase&ti=T1&pr1id=P1...``), as sent to ``/collect``
or as one line of a ``/batch`` body. Product parameters (``pr{N}..``) count only with a product
action ``pa``, as in GA; without one they are ignored and reported in :attr:`Hit.ignored`.
Errors name the parameter: ``pr2pr: not a number: 'x'``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from marshmallow import Schema, ValidationError

from ga_ee_bridge.core.model import (
    KINDS,
    ActionField,
    Ecommerce,
    Impression,
    Product,
    Promotion,
    Section,
)
from ga_ee_bridge.core.numbers import NumberError, parse_int_text
from ga_ee_bridge.errors import EcommerceError, show
from ga_ee_bridge.readers._fields import (
    Currency,
    Identifier,
    LenientField,
    Money,
    Text,
    collecting,
    mark,
    rename_since,
    to_warnings,
    warn,
)
from ga_ee_bridge.readers._renamed import IntText, RenamedSchema, blank, custom_value

__all__ = [
    "ACTION_FIELD_PARAMS",
    "BATCH_LIMIT",
    "IMPRESSION_PARAMS",
    "PRODUCT_ACTIONS",
    "PRODUCT_PARAMS",
    "PROMOTION_PARAMS",
    "Hit",
    "is_mp_hit",
    "parse_query",
    "read_mp_batch",
    "read_mp_hit",
    "read_mp_lines",
]

#: GA's limit of hits in one ``/batch`` request (strict mode enforces it).
BATCH_LIMIT = 20

#: ``pa`` values -> model section kinds.
PRODUCT_ACTIONS: dict[str, str] = {
    "click": "click",
    "detail": "detail",
    "add": "add",
    "remove": "remove",
    "checkout": "checkout",
    "checkout_option": "checkout_option",
    "purchase": "purchase",
    "refund": "refund",
}
#: ``promoa`` values: ``view`` is the default; analytics.js sends ``promo_click``, the mobile SDKs
#: ``click``.
_PROMO_ACTIONS: dict[str, str] = {
    "view": "promoView", "promo_click": "promoClick", "click": "promoClick"
}

# MP parameter suffix -> (model attribute, field class), in the order of the parameter reference.
PRODUCT_PARAMS: dict[str, tuple[str, type[LenientField]]] = {
    "id": ("id", Identifier),
    "nm": ("name", Text),
    "br": ("brand", Text),
    "ca": ("category", Text),
    "va": ("variant", Text),
    "pr": ("price", Money),
    "qt": ("quantity", IntText),
    "cc": ("coupon", Text),
    "ps": ("position", IntText),
}
IMPRESSION_PARAMS: dict[str, tuple[str, type[LenientField]]] = {
    "id": ("id", Identifier),
    "nm": ("name", Text),
    "br": ("brand", Text),
    "ca": ("category", Text),
    "va": ("variant", Text),
    "ps": ("position", IntText),
    "pr": ("price", Money),
}
PROMOTION_PARAMS: dict[str, tuple[str, type[LenientField]]] = {
    "id": ("id", Identifier),
    "nm": ("name", Text),
    "cr": ("creative", Text),
    "ps": ("position", Text),
}
ACTION_FIELD_PARAMS: dict[str, tuple[str, type[LenientField]]] = {
    "ti": ("id", Identifier),
    "ta": ("affiliation", Text),
    "tr": ("revenue", Money),
    "tt": ("tax", Money),
    "ts": ("shipping", Money),
    "tcc": ("coupon", Text),
    "pal": ("list", Text),
    "cos": ("step", IntText),
    "col": ("option", Text),
}

_PRODUCT = re.compile(r"pr([0-9]+)([a-z][a-z0-9]*)")
_IMPRESSION = re.compile(r"il([0-9]+)pi([0-9]+)([a-z][a-z0-9]*)")
_LIST_NAME = re.compile(r"il([0-9]+)nm")
_LIST_OTHER = re.compile(r"il([0-9]+)[a-z][a-z0-9]*")
_PROMOTION = re.compile(r"promo([0-9]+)([a-z][a-z0-9]*)")
_CUSTOM = re.compile(r"c([dm])([1-9][0-9]*)")
#: Kinds whose action needs the transaction id ``ti``.
_NEEDS_ID = frozenset({"purchase", "refund"})
#: Parameters every hit may carry that matter to a converter.
_HIT_PARAMS = frozenset({"v", "tid", "cid", "uid", "t", "qt"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    """One Measurement Protocol hit: its ecommerce data and who sent it, when.

    ``queue_time`` is ``qt``: milliseconds between the interaction and the hit being sent, so the
    interaction happened ``queue_time`` ms before the hit's receive time (which the hit itself does
    not carry). ``ignored`` names parameters GA would ignore too (product data without ``pa``).
    """

    ecommerce: Ecommerce
    client_id: str | None = None
    user_id: str | None = None
    queue_time: int | None = None
    hit_type: str | None = None
    tracking_id: str | None = None
    #: Parameters GA ignores as sent, e.g. ``pr1id`` without ``pa`` (parameter names).
    ignored: tuple[str, ...] = ()
    #: How many products (``pr{N}``) were ignored for want of a product action.
    ignored_products: int = 0
    #: The parameters as parsed (last value wins for a repeated name).
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def customer_ids(self) -> dict[str, str]:
        """``{"uid": ..., "cid": ...}`` for the ids present (empty when neither is)."""
        ids = {}
        if self.user_id:
            ids["uid"] = self.user_id
        if self.client_id:
            ids["cid"] = self.client_id
        return ids


def parse_query(line: str) -> dict[str, str]:
    """The parameters of one hit: a bare query string, or a URL / request line holding one.

    ``+`` reads as a space and ``%xx`` is decoded, as for a form body; a repeated parameter keeps
    its last value.
    """
    text = line.strip()
    if text.startswith(("GET ", "POST ")):
        text = text.split(" ", 2)[1]
    if "?" in text:
        text = text.split("?", 1)[1]
    return dict(parse_qsl(text, keep_blank_values=True))


def is_mp_hit(line: Any) -> bool:
    """Cheap check: is ``line`` a Measurement Protocol hit (a query string with ``v``/``t``...)?"""
    if isinstance(line, bytes):
        try:
            line = line.decode()
        except UnicodeDecodeError:
            return False
    if not isinstance(line, str):
        return False
    text = line.strip()
    if not text or text[0] in "{[\"" or "=" not in text:
        return False
    params = parse_query(text)
    if "t" in params and ("v" in params or "tid" in params):
        return True
    return "pa" in params or any(_PRODUCT.fullmatch(key) for key in params)


def _object_schema(
    name: str, model: type, params: dict[str, tuple[str, type[LenientField]]], *, strict: bool,
    custom: bool,
) -> Schema:
    declared: dict[str, Any] = {
        attr: cls(strict=strict, data_key=key) for key, (attr, cls) in params.items()
    }
    declared.update(model=model, strict=strict, needs_id_or_name=True, keeps_custom=custom)
    return type(name, (_MpObjectSchema,), declared)()


class _MpObjectSchema(RenamedSchema):
    """A product, impression or promotion grouped from its parameters (``id``, ``nm``, ``cd1``)."""

    keeps_custom: ClassVar[bool]

    def _is_custom_key(self, key: str) -> bool:
        return self.keeps_custom and _CUSTOM.fullmatch(key) is not None

    def _custom(
        self, original: Mapping[str, Any], errors: dict[str, Any]
    ) -> dict[str, str | float]:
        custom: dict[str, str | float] = {}
        if not self.keeps_custom:
            return custom
        for key, value in original.items():
            match = _CUSTOM.fullmatch(key)
            if match is None or blank(value):
                continue
            name = ("dimension" if match[1] == "d" else "metric") + match[2]
            try:
                custom[name] = custom_value(name, value, strict=self.strict)
            except ValidationError as err:
                self._problem(errors, key, err.messages, value)
        return custom


class _ActionFieldSchema(RenamedSchema):
    """The hit-level action parameters (``ti``, ``tr``, ``cos``...) -> :class:`ActionField`."""

    model = ActionField

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> Any:
        known = {key: value for key, value in original.items() if key in self._by_key}
        return super()._build(data, known)


@dataclass(frozen=True)
class _Schemas:
    product: Schema
    impression: Schema
    promotion: Schema
    action_field: Schema
    currency: Currency
    queue_time: IntText


@cache
def _schemas(strict: bool) -> _Schemas:
    tag = "Strict" if strict else "Lenient"
    action_declared: dict[str, Any] = {
        attr: cls(strict=strict, data_key=key) for key, (attr, cls) in ACTION_FIELD_PARAMS.items()
    }
    action_declared["strict"] = strict
    return _Schemas(
        product=_object_schema(
            f"{tag}MpProductSchema", Product, PRODUCT_PARAMS, strict=strict, custom=True
        ),
        impression=_object_schema(
            f"{tag}MpImpressionSchema", Impression, IMPRESSION_PARAMS, strict=strict, custom=True
        ),
        promotion=_object_schema(
            f"{tag}MpPromotionSchema", Promotion, PROMOTION_PARAMS, strict=strict, custom=False
        ),
        action_field=type(f"{tag}MpActionFieldSchema", (_ActionFieldSchema,), action_declared)(),
        currency=Currency(strict=strict),
        queue_time=IntText(strict=strict),
    )


def _load(
    schema: Schema, group: Mapping[str, str], prefix: str, errors: dict[str | int, Any]
) -> Any:
    """Load one grouped object; its errors and warnings are under the full parameter names."""
    since = mark()
    try:
        result = schema.load(group)
        rename_since(since, lambda path: (f"{prefix}{path[0]}", *path[1:]) if path else path)
        return result
    except ValidationError as err:
        messages = err.messages if isinstance(err.messages, Mapping) else {"_schema": err.messages}
        for key, message in messages.items():
            if key == "_schema":
                errors[prefix] = [
                    f"needs an id ({prefix}id) or a name ({prefix}nm), found neither"
                ]
            else:
                errors[prefix + str(key)] = message
        return None


def _index(text: str, name: str, strict: bool, errors: dict[str | int, Any]) -> int | None:
    """A parameter's index (``pr12id`` -> 12), or None when it cannot be used (then reported)."""
    try:
        value = parse_int_text(text)
    except NumberError as err:
        if strict:
            errors[name] = [f"index {err}"]
        else:
            warn((name,), f"index {err} (parameter left out)", None)
        return None
    if strict and not 1 <= value <= 200:
        errors[name] = [f"index out of range 1..200: {value}"]
    return value


def _params(line: Any) -> dict[str, str]:
    """The parameters of ``line`` (query text, UTF-8 bytes or a mapping of names to values)."""
    if isinstance(line, bytes | bytearray):
        try:
            line = bytes(line).decode()
        except UnicodeDecodeError as err:
            raise EcommerceError([f"not UTF-8 (byte {err.start}): {show(line)}"]) from None
    if isinstance(line, str):
        return parse_query(line)
    if not isinstance(line, Mapping):
        raise EcommerceError([f"not a query string: {show(line)}"])
    params: dict[str, str] = {}
    errors: dict[str | int, Any] = {}
    for key, value in line.items():
        name = str(key) if isinstance(key, str | int) else show(key)
        if isinstance(value, str):
            params[name] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            try:
                params[name] = Text()._read(value) or ""
            except ValidationError as err:
                errors[name] = err.messages
        else:
            errors[name] = [f"not a parameter value (text): {show(value)}"]
    if errors:
        raise EcommerceError(errors)
    return params


def _text(params: Mapping[str, str], key: str) -> str | None:
    return (params.get(key) or "").strip() or None


def read_mp_hit(line: str | bytes | Mapping[str, Any], *, strict: bool = False) -> Hit:
    """Read one Measurement Protocol hit (a query string, or its parsed parameters) -> :class:`Hit`.

    Lenient reading leaves out a value it cannot read, with a warning in
    ``hit.ecommerce.warnings`` (path: the parameter name). Raises :class:`EcommerceError` naming
    every bad parameter (``pr2pr: not a number: 'x'``), for bytes that are not UTF-8 and for
    parameter values that are not text. ``strict=True`` raises for every unreadable value, also
    rejects values lenient reading repairs, and indexes outside 1..200.
    """
    params = _params(line)
    with collecting() as found:
        hit = _read_hit(params, strict)
    if found:
        hit = replace(hit, ecommerce=replace(hit.ecommerce, warnings=to_warnings(found)))
    return hit


def _read_hit(params: dict[str, str], strict: bool) -> Hit:
    schemas = _schemas(strict)
    errors: dict[str | int, Any] = {}
    products: dict[int, dict[str, str]] = {}
    lists: dict[int, dict[int, dict[str, str]]] = {}
    list_names: dict[int, str] = {}
    promos: dict[int, dict[str, str]] = {}
    dropped: list[str] = []
    for key, value in params.items():
        if match := _PRODUCT.fullmatch(key):
            index = _index(match[1], key, strict, errors)
            if index is not None:
                products.setdefault(index, {})[match[2]] = value
        elif match := _IMPRESSION.fullmatch(key):
            list_index = _index(match[1], key, strict, errors)
            item_index = _index(match[2], key, strict, errors)
            if list_index is not None and item_index is not None:
                lists.setdefault(list_index, {}).setdefault(item_index, {})[match[3]] = value
        elif match := _LIST_NAME.fullmatch(key):
            list_index = _index(match[1], key, strict, errors)
            if list_index is not None:
                list_names[list_index] = value
        elif _LIST_OTHER.fullmatch(key):
            dropped.append(key)
        elif match := _PROMOTION.fullmatch(key):
            index = _index(match[1], key, strict, errors)
            if index is not None:
                promos.setdefault(index, {})[match[2]] = value
    sections: dict[str, Section] = {}
    ignored: list[str] = []
    ignored_products = 0

    # Impressions: il{L}pi{N}.., in list then item order.
    impressions: list[Impression] = []
    for list_index in sorted(lists):
        list_name = (list_names.get(list_index) or "").strip() or None
        for item_index, group in sorted(lists[list_index].items()):
            prefix = f"il{list_index}pi{item_index}"
            item = _load(schemas.impression, group, prefix, errors)
            if item is not None:
                dropped.extend(prefix + key for key in item.dropped)
                if list_name is not None:
                    raw = dict(item.raw, list=list_names[list_index])
                    item = replace(item, list=list_name, raw=MappingProxyType(raw))
                impressions.append(replace(item, dropped=()))
    for list_index in sorted(set(list_names) - set(lists)):
        ignored.append(f"il{list_index}nm")
    if impressions:
        sections["impressions"] = Section(kind="impressions", items=tuple(impressions))

    # The product action: pa with the action parameters and pr{N}.. products.
    action = params.get("pa", "")
    action_keys = [key for key in params if key in ACTION_FIELD_PARAMS]
    kind: str | None = None
    if action.strip():
        kind = PRODUCT_ACTIONS.get(action.strip())
        if kind is None:
            errors["pa"] = [
                f"unknown product action {show(action)}: expected one of "
                f"{', '.join(PRODUCT_ACTIONS)}"
            ]
    if kind is not None:
        action_field = _load(schemas.action_field, params, "", errors)
        if kind in _NEEDS_ID and blank(params.get("ti")):
            found = show(params.get("ti"))
            errors["ti"] = [f"missing: a {kind} needs a transaction id, found {found}"]
        items: list[Product] = []
        if kind != "checkout_option":
            for index, group in sorted(products.items()):
                product = _load(schemas.product, group, f"pr{index}", errors)
                if product is not None:
                    dropped.extend(f"pr{index}{key}" for key in product.dropped)
                    items.append(replace(product, dropped=()))
        else:
            ignored.extend(key for key in params if _PRODUCT.fullmatch(key))
            ignored_products = len(products)
        if action_field is not None:
            sections[kind] = Section(
                kind=kind,
                action_field=action_field,
                items=tuple(items),
                has_products=bool(items),
            )
    else:
        ignored.extend(key for key in params if _PRODUCT.fullmatch(key))
        ignored.extend(action_keys)
        ignored_products = len(products)

    # Promotions: promo{N}.., a view unless promoa says click.
    promo_action = params.get("promoa", "").strip() or "view"
    promo_kind = _PROMO_ACTIONS.get(promo_action)
    if promo_kind is None:
        errors["promoa"] = [
            f"unknown promotion action {show(params.get('promoa'))}: expected view or promo_click"
        ]
    promotions: list[Promotion] = []
    for index, group in sorted(promos.items()):
        promo = _load(schemas.promotion, group, f"promo{index}", errors)
        if promo is not None:
            dropped.extend(f"promo{index}{key}" for key in promo.dropped)
            promotions.append(replace(promo, dropped=()))
    if promotions and promo_kind is not None:
        sections[promo_kind] = Section(kind=promo_kind, items=tuple(promotions))

    currency: str | None = None
    queue_time: int | None = None
    try:
        if params.get("cu") is not None:
            currency = schemas.currency._deserialize(params["cu"], "cu", params)
    except ValidationError as err:
        errors["cu"] = err.messages
    try:
        if params.get("qt") is not None:
            queue_time = schemas.queue_time._deserialize(params["qt"], "qt", params)
    except ValidationError as err:
        errors["qt"] = err.messages
    if errors:
        raise EcommerceError(errors)
    ordered = {kind: sections[kind] for kind in KINDS if kind in sections}
    return Hit(
        ecommerce=Ecommerce(
            currency_code=currency,
            raw_currency_code=params.get("cu"),
            sections=MappingProxyType(ordered),
            dropped_keys=tuple(dropped),
        ),
        client_id=_text(params, "cid"),
        user_id=_text(params, "uid"),
        queue_time=queue_time,
        hit_type=_text(params, "t"),
        tracking_id=_text(params, "tid"),
        ignored=tuple(ignored),
        ignored_products=ignored_products,
        params=MappingProxyType(params),
    )


def read_mp_lines(lines: Iterable[str], *, strict: bool = False) -> Iterator[Hit]:
    """Read hits one a line (a log of ``/collect`` payloads); blank lines are skipped.

    Raises :class:`EcommerceError` for the first bad line, its path prefixed by the 0-based line
    index (``[3].pr2pr: not a number: 'x'``).
    """
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield read_mp_hit(line, strict=strict)
        except EcommerceError as err:
            raise EcommerceError({number: err.messages}) from None


def read_mp_batch(body: str | Iterable[str], *, strict: bool = False) -> list[Hit]:
    """Read a ``/batch`` body: one hit a line, every bad line reported at once.

    GA takes at most :data:`BATCH_LIMIT` hits a batch; strict mode rejects a longer body, lenient
    mode reads it all.
    """
    lines = body.splitlines() if isinstance(body, str) else list(body)
    hits: list[Hit] = []
    errors: dict[int | str, Any] = {}
    count = 0
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        count += 1
        try:
            hits.append(read_mp_hit(line, strict=strict))
        except EcommerceError as err:
            errors[number] = err.messages
    if strict and count > BATCH_LIMIT:
        errors["_schema"] = [f"a batch holds at most {BATCH_LIMIT} hits, found {count}"]
    if errors:
        raise EcommerceError(errors)
    return hits
