"""marshmallow fields for what shops push: lenient by default, strict when asked.

Every field reads ``null`` and empty text as "absent" (GA: "optional fields may be omitted or set to
empty string"), and names the bad value in its error message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields

from ga_ee_bridge.core.numbers import NumberError, parse_int, parse_number
from ga_ee_bridge.errors import show

__all__ = ["Count", "Currency", "Identifier", "ItemList", "LenientField", "Money", "Obj", "Text"]


class LenientField(fields.Field):
    """Base: knows whether it is strict; ``null`` loads as None (absent)."""

    def __init__(self, *, strict: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)
        self.strict = strict


class Text(LenientField):
    """Text, trimmed; empty means absent. Lenient mode reads numbers as their text."""

    kind = "text"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.strict:
                raise ValidationError(
                    f"expected {self.kind}, got a number (lenient mode would repair it): "
                    f"{show(value)}"
                )
            return _number_text(value)
        raise ValidationError(f"not {self.kind}: {show(value)}")


class Identifier(Text):
    """An id (product, order, promotion): text; numeric ids become their decimal text."""

    kind = "an id (text)"


def _number_text(value: int | float) -> str:
    """``6578037424293`` -> ``"6578037424293"``; ``12.0`` -> ``"12"``; ``1.5`` -> ``"1.5"``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Money(LenientField):
    """A currency value (price, revenue, tax, shipping) read by :func:`parse_number`."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> float | None:
        if isinstance(value, str) and not value.strip():
            return None
        try:
            return parse_number(value, strict=self.strict)
        except NumberError as err:
            raise ValidationError(str(err)) from None


class Count(LenientField):
    """An integer (quantity, position, step) read by :func:`parse_int`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | None:
        if isinstance(value, str) and not value.strip():
            return None
        try:
            return parse_int(value, strict=self.strict)
        except NumberError as err:
            raise ValidationError(str(err)) from None


_CURRENCY = re.compile(r"[A-Z]{3}")


class Currency(Text):
    """An ISO 4217 currency code, trimmed and upper-cased; strict mode wants three letters."""

    kind = "a currency code"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        code = text.upper()
        if self.strict and not _CURRENCY.fullmatch(text):
            raise ValidationError(f"not an ISO 4217 currency code: {show(value)}")
        return code


class Obj(LenientField):
    """A nested object loaded by ``schema``; anything but an object (or null) is an error."""

    def __init__(self, schema: Schema, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schema = schema

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValidationError(f"not an object: {show(value)}")
        return self.schema.load(value)


class ItemList(LenientField):
    """A list of objects loaded by ``schema``; errors are keyed by list index.

    Lenient mode reads a single object as a list of one (a flat product where a list belongs).
    """

    def __init__(self, schema: Schema, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schema = schema

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[Any, ...]:
        if isinstance(value, Mapping):
            if self.strict:
                raise ValidationError(
                    f"expected a list, got an object (lenient mode would read it as a list of "
                    f"one): {show(value)}"
                )
            value = [value]
        elif not isinstance(value, list | tuple):
            raise ValidationError(f"not a list: {show(value)}")
        items: list[Any] = []
        errors: dict[int, Any] = {}
        load = self.schema.load
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                errors[index] = [f"not an object: {show(item)}"]
                continue
            try:
                items.append(load(item))
            except ValidationError as err:
                errors[index] = err.messages
        if errors:
            raise ValidationError(errors)
        return tuple(items)
