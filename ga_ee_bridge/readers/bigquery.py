"""GA360 BigQuery export rows (``ga_sessions_*``, one session a row) -> records of the model.

Each hit carrying Enhanced Ecommerce data becomes one :class:`Record`: its :class:`Ecommerce`, the
customer id chosen from ``userId`` / ``clientId`` / ``fullVisitorId`` and the hit's time
(``visitStartTime`` seconds + ``hits.time`` milliseconds). Money is stored in micros (2.40 as
2400000) and read back into units. Errors name the row's own path:
``hits[3].product[1].productPrice: not a number: 'x'``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from functools import cache
from types import MappingProxyType
from typing import Any, ClassVar, Literal

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
from ga_ee_bridge.errors import EcommerceError, show
from ga_ee_bridge.readers._fields import (
    Currency,
    Identifier,
    ItemList,
    LenientField,
    Obj,
    Text,
    collecting,
    to_warnings,
    warn,
)
from ga_ee_bridge.readers._renamed import (
    Flag,
    IntText,
    Micros,
    NotSetText,
    RenamedSchema,
    blank,
    custom_value,
)
from ga_ee_bridge.readers._schema import BaseSchema

__all__ = [
    "ACTION_TYPES",
    "CUSTOMER_ID_FIELDS",
    "PRODUCT_COLUMNS",
    "PROMOTION_COLUMNS",
    "Record",
    "is_bigquery_row",
    "read_bigquery_row",
]

#: ``hits.eCommerceAction.action_type`` codes -> model section kinds (``"0"``: no action).
ACTION_TYPES: dict[str, str | None] = {
    "0": None,
    "1": "click",
    "2": "detail",
    "3": "add",
    "4": "remove",
    "5": "checkout",
    "6": "purchase",
    "7": "refund",
    "8": "checkout_option",
}
#: The row's customer id columns, in the order the default fallback tries them.
CUSTOMER_ID_FIELDS: tuple[str, ...] = ("userId", "clientId", "fullVisitorId")
MoneyColumns = Literal["local", "view"]

# hits.product column -> (model attribute, field class). Money has a local-currency twin.
PRODUCT_COLUMNS: dict[str, tuple[str, type[LenientField]]] = {
    "productSKU": ("id", Identifier),
    "v2ProductName": ("name", NotSetText),
    "productBrand": ("brand", NotSetText),
    "v2ProductCategory": ("category", NotSetText),
    "productVariant": ("variant", NotSetText),
    "productPrice": ("price", Micros),
    "localProductPrice": ("_local_price", Micros),
    "productQuantity": ("quantity", IntText),
    "productCouponCode": ("coupon", NotSetText),
    "productListPosition": ("position", IntText),
    "productListName": ("_list", NotSetText),
    "isImpression": ("_is_impression", Flag),
    "isClick": ("_is_click", Flag),
}
#: Product columns known but not read: GA computes them from price and quantity.
_PRODUCT_IGNORED = frozenset({
    "productRevenue", "localProductRevenue", "productRefundAmount", "localProductRefundAmount",
    "customDimensions", "customMetrics",
})
PROMOTION_COLUMNS: dict[str, tuple[str, type[LenientField]]] = {
    "promoId": ("id", Identifier),
    "promoName": ("name", NotSetText),
    "promoCreative": ("creative", NotSetText),
    "promoPosition": ("position", NotSetText),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One ecommerce hit of a session row: the data, whose it is, and when it happened."""

    ecommerce: Ecommerce
    #: The chosen customer id's value (None when the row has none of the asked columns).
    customer_id: str | None = None
    #: The column it came from: ``userId``, ``clientId`` or ``fullVisitorId``.
    customer_id_field: str | None = None
    #: Every id column the row has, by column name.
    ids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Unix seconds: ``visitStartTime`` + ``hits.time`` / 1000 (None when either is missing).
    timestamp: float | None = None
    #: The hit's index in ``hits`` and its ``hitNumber``.
    hit_index: int = 0
    hit_number: int | None = None
    #: Paths GA ignores too, e.g. ``hits[2].product[0]`` (a product row without an action).
    ignored: tuple[str, ...] = ()


_INDEX = IntText(strict=False)


@dataclass(frozen=True, slots=True)
class _Row:
    product: Product
    impression: Impression
    list_name: str | None
    is_impression: bool


class _ProductSchema(RenamedSchema):
    """A ``hits.product`` row -> a :class:`_Row` holding it as product and as impression."""

    model = Product
    needs_id_or_name = True
    typed_raw = True
    ignored = _PRODUCT_IGNORED
    local: ClassVar[bool]

    def _custom(
        self, original: Mapping[str, Any], errors: dict[str, Any]
    ) -> dict[str, str | float]:
        custom: dict[str, str | float] = {}

        def problem(parts: tuple[str | int, ...], messages: Any, value: Any) -> None:
            if self.strict:
                target = errors
                for part in parts[:-1]:
                    target = target.setdefault(part, {})  # type: ignore[arg-type]
                target[parts[-1]] = messages  # type: ignore[index]
            else:
                text = "; ".join(messages) if isinstance(messages, list) else str(messages)
                warn(parts, f"{text} (left out)", value)

        for column, prefix in (("customDimensions", "dimension"), ("customMetrics", "metric")):
            entries = original.get(column)
            if entries is None:
                continue
            if not isinstance(entries, list | tuple):
                problem((column,), [f"not a list: {show(entries)}"], entries)
                continue
            for index, entry in enumerate(entries):
                if not isinstance(entry, Mapping):
                    problem((column, index), [f"not an object: {show(entry)}"], entry)
                    continue
                position = entry.get("index")
                try:
                    number = None if position is None else _INDEX._read(position)
                    if number is None or number < 1:
                        raise ValidationError(f"not an index: {show(position)}")
                except ValidationError as err:
                    problem((column, index, "index"), err.messages, position)
                    continue
                value = entry.get("value")
                if blank(value):
                    continue
                name = f"{prefix}{number}"
                try:
                    custom[name] = custom_value(name, value, strict=self.strict)
                except ValidationError as err:
                    problem((column, index, "value"), err.messages, value)
        return custom

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> Any:
        local_price = data.pop("_local_price", None)
        list_name = data.pop("_list", None)
        is_impression = bool(data.pop("_is_impression", None))
        data.pop("_is_click", None)
        if self.local and local_price is not None:
            data["price"] = local_price
        product: Product = super()._build(data, original)
        raw = {
            key: value for key, value in product.raw.items()
            if key in ("id", "name", "brand", "category", "variant", "price", "position")
        }
        if list_name is not None:
            raw["list"] = list_name
        raw.update(product.custom)
        impression = Impression(
            raw=MappingProxyType(raw),
            custom=product.custom,
            dropped=product.dropped,
            id=product.id,
            name=product.name,
            list=list_name,
            brand=product.brand,
            category=product.category,
            variant=product.variant,
            position=product.position,
            price=product.price,
        )
        return _Row(product, impression, list_name, is_impression)


class _PromotionSchema(RenamedSchema):
    model = Promotion
    needs_id_or_name = True
    typed_raw = True


class _Plain(BaseSchema):
    """A nested record of a hit (``transaction``, ``eCommerceAction``...) -> a plain dict."""

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> dict[str, Any]:
        return data


class _HitSchema(BaseSchema):
    """One ``hits`` element -> a dict of its typed parts (the row schema makes the records)."""

    def _validate(self, data: dict[str, Any], original: Mapping[str, Any]) -> None:
        action = original.get("eCommerceAction")
        if not isinstance(action, Mapping):
            return  # absent, or reported by its field
        code = action.get("action_type")
        if isinstance(code, int | float) and not isinstance(code, bool):
            with suppress(ValidationError):  # strict mode reports the type through the field
                code = Text()._read(code)
        code = code.strip() if isinstance(code, str) else code
        if blank(code):
            return
        if not isinstance(code, str) or code not in ACTION_TYPES:
            raise ValidationError({"eCommerceAction": {"action_type": [
                f"unknown action type {show(code)}: expected one of {', '.join(ACTION_TYPES)}"
            ]}})
        kind = ACTION_TYPES[code]
        if kind in ("purchase", "refund"):
            transaction = original.get("transaction")
            loaded = data.get("transaction")
            if (
                not isinstance(transaction, Mapping)
                or blank(transaction.get("transactionId"))
                or (not self.strict and (loaded or {}).get("transactionId") is None)
            ):
                raise ValidationError({"transaction": {"transactionId": [
                    f"missing: a {kind} (action_type {code}) needs a transaction id"
                ]}})

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> dict[str, Any]:
        return data


class _RowSchema(BaseSchema):
    """One session row -> a dict of typed columns and hits."""

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> dict[str, Any]:
        return data


def _plain(name: str, columns: dict[str, type[LenientField]], strict: bool) -> Schema:
    declared: dict[str, Any] = {
        key: cls(strict=strict, data_key=key) for key, cls in columns.items()
    }
    declared["strict"] = strict
    return type(name, (_Plain,), declared)()


@cache
def _row_schema(strict: bool, local: bool) -> Schema:
    tag = ("Strict" if strict else "Lenient") + ("Local" if local else "View")

    def renamed(name: str, base: type, columns: dict[str, tuple[str, type[LenientField]]],
                **extra: Any) -> Schema:
        declared: dict[str, Any] = {
            attr: cls(strict=strict, data_key=key) for key, (attr, cls) in columns.items()
        }
        declared.update(strict=strict, **extra)
        return type(f"{tag}{name}", (base,), declared)()

    product = renamed("BqProductSchema", _ProductSchema, PRODUCT_COLUMNS, local=local)
    promotion = renamed("BqPromotionSchema", _PromotionSchema, PROMOTION_COLUMNS)
    transaction = _plain(f"{tag}BqTransactionSchema", {
        "transactionId": Identifier,
        "affiliation": NotSetText,
        "currencyCode": Currency,
        "transactionRevenue": Micros,
        "transactionTax": Micros,
        "transactionShipping": Micros,
        "localTransactionRevenue": Micros,
        "localTransactionTax": Micros,
        "localTransactionShipping": Micros,
        "transactionCoupon": NotSetText,
    }, strict)
    refund = _plain(f"{tag}BqRefundSchema", {
        "refundAmount": Micros, "localRefundAmount": Micros,
    }, strict)
    action = _plain(f"{tag}BqActionSchema", {
        "action_type": Text, "step": IntText, "option": NotSetText,
    }, strict)
    promo_info = _plain(f"{tag}BqPromoInfoSchema", {
        "promoIsView": Flag, "promoIsClick": Flag,
    }, strict)
    hit_declared: dict[str, Any] = {
        "hitNumber": IntText(strict=strict, data_key="hitNumber"),
        "time": IntText(strict=strict, data_key="time"),
        "type": Text(strict=strict, data_key="type"),
        "eCommerceAction": Obj(action, strict=strict, data_key="eCommerceAction"),
        "product": ItemList(product, strict=strict, data_key="product"),
        "promotion": ItemList(promotion, strict=strict, data_key="promotion"),
        "promotionActionInfo": Obj(promo_info, strict=strict, data_key="promotionActionInfo"),
        "transaction": Obj(transaction, strict=strict, data_key="transaction"),
        "refund": Obj(refund, strict=strict, data_key="refund"),
        "strict": strict,
    }
    hit = type(f"{tag}BqHitSchema", (_HitSchema,), hit_declared)()
    row_declared: dict[str, Any] = {
        key: Identifier(strict=strict, data_key=key) for key in CUSTOMER_ID_FIELDS
    }
    row_declared.update(
        visitStartTime=IntText(strict=strict, data_key="visitStartTime"),
        hits=ItemList(hit, strict=strict, data_key="hits"),
        strict=strict,
    )
    return type(f"{tag}BqRowSchema", (_RowSchema,), row_declared)()


def is_bigquery_row(obj: Any) -> bool:
    """Cheap check: is ``obj`` a ``ga_sessions_*`` row (an object with ``hits`` and visit ids)?"""
    return (
        isinstance(obj, Mapping)
        and isinstance(obj.get("hits"), list)
        and ("visitStartTime" in obj or "fullVisitorId" in obj or "visitId" in obj)
    )


def _customer_fields(customer_id: str | Sequence[str]) -> tuple[str, ...]:
    names = (customer_id,) if isinstance(customer_id, str) else tuple(customer_id)
    bad = [name for name in names if name not in CUSTOMER_ID_FIELDS]
    if not names or bad:
        raise ValueError(
            f"customer_id must name one or more of {', '.join(CUSTOMER_ID_FIELDS)}, "
            f"got {customer_id!r}"
        )
    return names


def read_bigquery_row(
    row: Mapping[str, Any],
    *,
    customer_id: str | Sequence[str] = "fullVisitorId",
    money: MoneyColumns = "local",
    strict: bool = False,
) -> Iterator[Record]:
    """Read one ``ga_sessions_*`` row into one :class:`Record` per hit with ecommerce data.

    ``customer_id`` names the id column (``userId``, ``clientId`` or ``fullVisitorId``), or a
    sequence of them tried in order (``("userId", "fullVisitorId")``: the user id when known).
    ``money="local"`` reads the ``local*`` money columns (the values as the site sent them, in
    ``hits.transaction.currencyCode``), falling back to the view-currency column when a local one
    is empty; ``money="view"`` reads the view-currency columns and sets no currency code.
    Raises :class:`EcommerceError` naming every bad path of the row at once, before yielding.
    """
    names = _customer_fields(customer_id)
    if money not in ("local", "view"):
        raise ValueError(f"money must be 'local' or 'view', got {money!r}")
    if not isinstance(row, Mapping):
        raise EcommerceError([f"not a session row (an object): {show(row)}"])
    with collecting() as found:
        try:
            data = _row_schema(strict, money == "local").load(row)
        except ValidationError as err:
            messages = err.messages
            raise EcommerceError(
                messages if isinstance(messages, Mapping) else {"_schema": messages}
            ) from None
    warnings = to_warnings(found)
    ids = {name: data[name] for name in CUSTOMER_ID_FIELDS if data.get(name) is not None}
    chosen = next((name for name in names if name in ids), None)
    start = data.get("visitStartTime")
    records: list[Record] = []
    for index, hit in enumerate(data.get("hits") or ()):
        ecommerce, ignored = _hit_ecommerce(hit, index, money == "local")
        if ecommerce is None:
            continue
        time = hit.get("time")
        prefix = f"hits[{index}]"
        own = tuple(
            w for w in warnings
            if w.path.startswith(prefix) and w.path[len(prefix):len(prefix) + 1] in (".", "")
        )
        if not records:  # the row's own columns (visitStartTime...) go with its first record
            own = tuple(w for w in warnings if not w.path.startswith("hits[")) + own
        if own:
            ecommerce = replace(ecommerce, warnings=own)
        records.append(Record(
            ecommerce=ecommerce,
            customer_id=ids.get(chosen) if chosen else None,
            customer_id_field=chosen,
            ids=MappingProxyType(ids),
            timestamp=None if start is None else start + (time or 0) / 1000,
            hit_index=index,
            hit_number=hit.get("hitNumber"),
            ignored=ignored,
        ))
    return iter(records)


def _money(part: Mapping[str, Any] | None, column: str, local: bool) -> float | None:
    if not part:
        return None
    if local:
        value = part.get("local" + column[0].upper() + column[1:])
        if value is not None:
            return value
    return part.get(column)


def _hit_ecommerce(
    hit: Mapping[str, Any], index: int, local: bool
) -> tuple[Ecommerce | None, tuple[str, ...]]:
    """The ecommerce data of one hit (None when it has none) and the paths GA ignores."""
    action = hit.get("eCommerceAction") or {}
    kind = ACTION_TYPES[(action.get("action_type") or "0").strip()]
    rows: tuple[_Row, ...] = hit.get("product") or ()
    sections: dict[str, Section] = {}
    ignored: list[str] = []
    dropped: list[str] = []
    impressions = tuple(row.impression for row in rows if row.is_impression)
    products = tuple(row for row in rows if not row.is_impression)
    product_paths = [
        f"hits[{index}].product[{position}]"
        for position, row in enumerate(rows) if not row.is_impression
    ]
    for position, row in enumerate(rows):
        dropped.extend(f"hits[{index}].product[{position}].{key}" for key in row.product.dropped)
    if impressions:
        sections["impressions"] = Section(
            kind="impressions", items=tuple(replace(item, dropped=()) for item in impressions)
        )
    transaction = hit.get("transaction") or {}
    if kind is not None:
        values: dict[str, Any] = {}
        if kind in ("purchase", "refund"):
            values["id"] = transaction.get("transactionId")
            values["affiliation"] = transaction.get("affiliation")
            values["coupon"] = transaction.get("transactionCoupon")
            if kind == "purchase":
                values["revenue"] = _money(transaction, "transactionRevenue", local)
                values["tax"] = _money(transaction, "transactionTax", local)
                values["shipping"] = _money(transaction, "transactionShipping", local)
            else:
                values["revenue"] = _money(hit.get("refund"), "refundAmount", local)
        if kind in ("click", "detail"):
            values["list"] = next((row.list_name for row in products if row.list_name), None)
        if kind in ("checkout", "checkout_option"):
            values["step"] = action.get("step")
            values["option"] = action.get("option")
        present = {key: value for key, value in values.items() if value is not None}
        action_field = ActionField(raw=MappingProxyType(present), **present)
        items = () if kind == "checkout_option" else tuple(
            replace(row.product, dropped=()) for row in products
        )
        if kind == "checkout_option":
            ignored.extend(product_paths)
        sections[kind] = Section(
            kind=kind, action_field=action_field, items=items,
            has_products=bool(items),
        )
    else:
        ignored.extend(product_paths)
    promotions: tuple[Promotion, ...] = hit.get("promotion") or ()
    if promotions:
        info = hit.get("promotionActionInfo") or {}
        promo_kind = "promoClick" if info.get("promoIsClick") else "promoView"
        sections[promo_kind] = Section(
            kind=promo_kind, items=tuple(replace(item, dropped=()) for item in promotions)
        )
        for position, item in enumerate(promotions):
            dropped.extend(f"hits[{index}].promotion[{position}].{key}" for key in item.dropped)
    if not sections:
        return None, tuple(ignored)
    currency = transaction.get("currencyCode") if local else None
    return Ecommerce(
        currency_code=currency,
        raw_currency_code=currency,
        sections=MappingProxyType({kind: sections[kind] for kind in KINDS if kind in sections}),
        dropped_keys=tuple(dropped),
    ), tuple(ignored)
