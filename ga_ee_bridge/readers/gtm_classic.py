"""Classic GTM ecommerce (before Enhanced Ecommerce): ``transactionId``... at the push's root.

Older Google Tag Manager setups push a transaction for the "Google Analytics: Classic / Universal
Analytics" transaction tag as top-level keys::

    {"event": "transaction", "transactionId": "T1", "transactionAffiliation": "Shop",
     "transactionTotal": 38.5, "transactionTax": 2.5, "transactionShipping": 5,
     "transactionProducts": [{"sku": "DD44", "name": "T-Shirt", "category": "Apparel",
                              "price": 11.99, "quantity": 1}]}

It reads as a UA ``purchase`` (so ``transaction`` and ``product_purchase`` events), with the UA
reader's rules for every value: ``transactionId`` is the order id, ``transactionTotal`` its revenue,
and a product's ``sku`` is its id when it has no ``id``. Error, dropped and warning paths name the
keys as pushed (``transactionProducts[0].price``). ``transactionCurrency`` (pushed by some setups)
is the currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from marshmallow import ValidationError

from ga_ee_bridge.core.model import Ecommerce, ReadWarning
from ga_ee_bridge.errors import EcommerceError, flatten_messages, show
from ga_ee_bridge.readers import ua

__all__ = ["ACTION_KEYS", "SOURCE", "is_classic", "read_classic"]

#: The ``source`` of what this reader reads (:attr:`Ecommerce.source`).
SOURCE = "gtm"
#: Classic transaction key -> the UA actionField key it reads as.
ACTION_KEYS: dict[str, str] = {
    "transactionId": "id",
    "transactionAffiliation": "affiliation",
    "transactionTotal": "revenue",
    "transactionTax": "tax",
    "transactionShipping": "shipping",
}
_PRODUCTS = "transactionProducts"
_CURRENCY = "transactionCurrency"
_KEYS = frozenset({*ACTION_KEYS, _PRODUCTS, _CURRENCY})
_BACK = {value: key for key, value in ACTION_KEYS.items()}


def is_classic(push: Any) -> bool:
    """True for a push holding a classic GTM transaction (``transactionId`` or
    ``transactionProducts`` at its root) and no ``ecommerce`` object."""
    return isinstance(push, Mapping) and push.get("ecommerce") is None and (
        "transactionId" in push or _PRODUCTS in push
    )


def read_classic(push: Mapping[str, Any], *, strict: bool = False) -> Ecommerce:
    """Read a classic GTM transaction push into the model: one ``purchase`` section.

    Raises :class:`EcommerceError` with paths as pushed (``transactionId``,
    ``transactionProducts[1].price``).
    """
    if not isinstance(push, Mapping):
        raise EcommerceError([f"not a dataLayer push (an object): {show(push)}"])
    action = {ua_key: push[key] for key, ua_key in ACTION_KEYS.items() if key in push}
    products = push.get(_PRODUCTS)
    sku_used: set[int] = set()
    if isinstance(products, list):
        converted = []
        for position, product in enumerate(products):
            if isinstance(product, Mapping) and product.get("id") in (None, "") and (
                "sku" in product
            ):
                sku_used.add(position)
                product = {"id": product["sku"],
                           **{key: value for key, value in product.items()
                              if key not in ("id", "sku")}}
            converted.append(product)
        products = converted
    section: dict[str, Any] = {"actionField": action}
    if products is not None:
        section["products"] = products
    ecommerce: dict[str, Any] = {"purchase": section}
    if _CURRENCY in push:
        ecommerce["currencyCode"] = push[_CURRENCY]
    try:
        result: Ecommerce = ua.schema(strict).load(ecommerce)
    except ValidationError as err:
        raise EcommerceError(_messages(err.messages, sku_used)) from None
    errors = tuple((kind, EcommerceError(_messages(error.messages, sku_used)))
                   for kind, error in result.section_errors)
    warnings = tuple(ReadWarning(_path(warning.path, sku_used), warning.message, warning.value)
                     for warning in result.warnings)
    return replace(result, source=SOURCE, dropped_keys=tuple(
        _path(path, sku_used) for path in result.dropped
    ), warnings=warnings, section_errors=errors)


def _path(path: str, sku_used: set[int]) -> str:
    """A UA path of the purchase read (``purchase.products[0].id``) as pushed."""
    head, _, rest = path.partition(".")
    if head == "currencyCode":
        return _CURRENCY
    if head != "purchase":
        return path
    if rest.startswith("actionField."):
        key = rest[len("actionField."):]
        return _BACK.get(key, f"actionField.{key}")
    if rest.startswith("products"):
        rest = rest[len("products"):]
        if rest.startswith("[") and "]" in rest:
            number, _, field = rest[1:].partition("]")
            if field == ".id" and number.isdigit() and int(number) in sku_used:
                field = ".sku"
            return f"{_PRODUCTS}[{number}]{field}"
        return _PRODUCTS + rest
    return rest or ""


def _parts(parts: tuple[str | int, ...], sku_used: set[int]) -> tuple[str | int, ...]:
    """The parts of a UA error path (``purchase``, ``products``, 0, ``id``) as pushed."""
    if parts[:1] == ("currencyCode",):
        return (_CURRENCY, *parts[1:])
    if parts[:1] != ("purchase",):
        return parts
    rest = parts[1:]
    if rest[:1] == ("actionField",) and len(rest) > 1 and isinstance(rest[1], str):
        return (_BACK.get(rest[1], rest[1]), *rest[2:])
    if rest[:1] == ("products",):
        tail = rest[1:]
        if len(tail) >= 2 and tail[1] == "id" and tail[0] in sku_used:
            tail = (tail[0], "sku", *tail[2:])
        return (_PRODUCTS, *tail)
    return rest


def _messages(messages: Any, sku_used: set[int]) -> dict[str | int, Any]:
    """The UA reader's nested messages, nested again by the paths as pushed."""
    out: dict[str | int, Any] = {}
    for parts, message in flatten_messages(messages):
        node = out
        moved = _parts(parts, sku_used)
        for part in moved[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {"_schema": child}
            node = child
        key = moved[-1] if moved else "_schema"
        existing = node.get(key)
        if isinstance(existing, dict):
            existing.setdefault("_schema", []).append(message)
        else:
            node.setdefault(key, []).append(message)
    return out
