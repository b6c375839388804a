"""Readers: each GA form of ecommerce data, read by marshmallow schemas into the model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError

from ga_ee_bridge.errors import EcommerceError, show
from ga_ee_bridge.model import Ecommerce
from ga_ee_bridge.readers import ua

__all__ = ["parse_ecommerce"]

_EMPTY = Ecommerce()


def parse_ecommerce(ecommerce: Any, *, strict: bool = False) -> Ecommerce:
    """Read a GA ``ecommerce`` object, or a whole dataLayer push holding one, into the model.

    ``{"ecommerce": null}`` and ``None`` read as an empty object. Raises :class:`EcommerceError`
    naming every bad path and value at once; ``strict=True`` also rejects what lenient reading
    would repair (numeric ids, ``"$275.00"``, a flat product where a list belongs...).
    """
    if isinstance(ecommerce, Ecommerce):
        return ecommerce
    if isinstance(ecommerce, Mapping) and "ecommerce" in ecommerce:
        ecommerce = ecommerce["ecommerce"]
    if ecommerce is None:
        return _EMPTY
    if not isinstance(ecommerce, Mapping):
        raise EcommerceError([f"not an object: {show(ecommerce)}"])
    try:
        result: Ecommerce = ua.schema(strict).load(ecommerce)
    except ValidationError as err:
        raise EcommerceError(err.messages) from None
    return result
