"""marshmallow fields for what shops push: lenient by default, strict when asked.

Every field reads ``null`` and empty text as "absent" (GA: "optional fields may be omitted or set to
empty string"), and names the bad value in its error message.

The one rule of lenient reading lives here: a value a field cannot read is *dropped* (read as
absent) with a warning naming its path and value, and the object is kept; strict mode raises a
``ValidationError`` instead. Warnings go to the collector of :func:`collecting` (each reader's entry
point opens one); containers (:class:`Obj`, :class:`ItemList`) put their key and index in front of
the paths found inside them, so a warning's path is relative to the object the reader was given.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from marshmallow import Schema, ValidationError, fields

from ga_ee_bridge.core.model import ReadWarning
from ga_ee_bridge.core.numbers import NumberError, parse_int, parse_number
from ga_ee_bridge.errors import format_path, show

__all__ = [
    "Count",
    "Currency",
    "Found",
    "Identifier",
    "ItemList",
    "LenientField",
    "Money",
    "Obj",
    "Text",
    "collecting",
    "discard_since",
    "mark",
    "prefix_since",
    "rename_since",
    "taken_since",
    "to_warnings",
    "warn",
]

logger = logging.getLogger("ga_ee_bridge.readers")

#: One dropped value: (path parts, message, value as pushed).
Found = tuple[tuple[str | int, ...], str, Any]
_FOUND: ContextVar[list[Found] | None] = ContextVar("ga_ee_bridge_read_warnings", default=None)


class collecting:  # lower case: used as a function, ``with collecting() as found:``
    """Collect the values dropped while reading, in the order found (a reader's entry point)."""

    __slots__ = ("found", "token")

    def __enter__(self) -> list[Found]:
        self.found: list[Found] = []
        self.token = _FOUND.set(self.found)
        return self.found

    def __exit__(self, *_: object) -> None:
        _FOUND.reset(self.token)


def warn(parts: tuple[str | int, ...], message: str, value: Any) -> None:
    """Record a dropped value at ``parts`` (relative to the object being read)."""
    found = _FOUND.get()
    if found is None:  # a schema used outside any reader: still never silent
        logger.warning("left out %s: %s", format_path(parts) or "value", message)
        return
    found.append((parts, message, value))


def mark() -> int:
    """How many values were dropped so far (for :func:`prefix_since` / :func:`discard_since`)."""
    found = _FOUND.get()
    return 0 if found is None else len(found)


def prefix_since(since: int, *parts: str | int) -> None:
    """Put ``parts`` in front of the paths of the values dropped since ``since``."""
    found = _FOUND.get()
    if found is not None and len(found) > since:
        found[since:] = [((*parts, *path), text, value) for path, text, value in found[since:]]


def rename_since(
    since: int, rename: Callable[[tuple[str | int, ...]], tuple[str | int, ...]]
) -> None:
    """Rewrite the paths of the values dropped since ``since`` (a form with its own path style)."""
    found = _FOUND.get()
    if found is not None and len(found) > since:
        found[since:] = [(rename(path), message, value) for path, message, value in found[since:]]


def taken_since(since: int) -> list[Found]:
    """Remove and return the values dropped since ``since`` (to hand them to their result)."""
    found = _FOUND.get()
    if found is None or len(found) <= since:
        return []
    taken = found[since:]
    del found[since:]
    return taken


def discard_since(since: int) -> None:
    """Forget the values dropped since ``since`` (a load that failed, or is run again)."""
    found = _FOUND.get()
    if found is not None and len(found) > since:
        del found[since:]


def to_warnings(found: list[Found], prefix: str = "") -> tuple[ReadWarning, ...]:
    """The collected values as :class:`ReadWarning` objects, paths rendered (``a.b[0].c``)."""
    result = []
    for parts, message, value in found:
        path = format_path(parts)
        if prefix:
            path = f"{prefix}{path}" if path.startswith("[") or not path else f"{prefix}.{path}"
        result.append(ReadWarning(path or "ecommerce", message, value))
    return tuple(result)


class LenientField(fields.Field):
    """Base: knows whether it is strict; ``null`` loads as None (absent).

    Subclasses read a value in :meth:`_read`; a ``ValidationError`` raised there is the field's
    error in strict mode and, in lenient mode, a dropped value with a warning (None is loaded).
    """

    def __init__(self, *, strict: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)
        self.strict = strict

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return self._read(value)
        except ValidationError as err:
            if self.strict:
                raise
            key = self.data_key or attr or ""
            messages = err.messages
            message = "; ".join(messages) if isinstance(messages, list) else str(messages)
            warn((key,), f"{message} (left out)", value)
            return None

    def _read(self, value: Any) -> Any:
        return value


class Text(LenientField):
    """Text, trimmed; empty means absent. Lenient mode reads numbers as their text."""

    kind = "text"

    def _read(self, value: Any) -> str | None:
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


_MAX_ID_BITS = 3000  # about 900 digits; Python refuses to print ints of over 4,300


def _number_text(value: int | float) -> str:
    """``6578037424293`` -> ``"6578037424293"``; ``12.0`` -> ``"12"``; ``1.5`` -> ``"1.5"``."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"not a finite number: {show(value)}")
        return str(int(value)) if value.is_integer() else str(value)
    if value.bit_length() > _MAX_ID_BITS:
        raise ValidationError(f"number too large: {show(value)}")
    return str(value)


class Money(LenientField):
    """A currency value (price, revenue, tax, shipping) read by :func:`parse_number`."""

    def _read(self, value: Any) -> float | None:
        if isinstance(value, str) and not value.strip():
            return None
        try:
            return parse_number(value, strict=self.strict)
        except NumberError as err:
            raise ValidationError(str(err)) from None


class Count(LenientField):
    """An integer (quantity, position, step) read by :func:`parse_int`, within 2**53."""

    def _read(self, value: Any) -> int | None:
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

    def _read(self, value: Any) -> str | None:
        text = super()._read(value)
        if text is None:
            return None
        code = text.upper()
        if self.strict and not _CURRENCY.fullmatch(text):
            raise ValidationError(f"not an ISO 4217 currency code: {show(value)}")
        return code


class Obj(LenientField):
    """A nested object loaded by ``schema``; anything but an object (or null) is unreadable.

    A non-object is dropped with a warning in lenient mode (an ``actionField: "T1"``); errors of
    the object's own content are its schema's, raised in both modes, paths under this key.
    """

    def __init__(self, schema: Schema, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schema = schema

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            return super()._deserialize(value, attr, data, **kwargs)
        since = mark()
        result = self.schema.load(value)
        prefix_since(since, self.data_key or attr or "")
        return result

    def _read(self, value: Any) -> Any:
        raise ValidationError(f"not an object: {show(value)}")


class ItemList(LenientField):
    """A list of objects loaded by ``schema``; errors are keyed by list index.

    Lenient mode reads a single object as a list of one (a flat product where a list belongs).
    A list that is no list, or an item that is no object, is an error in both modes: the items
    are what the section is about.
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
        key = self.data_key or attr or ""
        found = _FOUND.get()
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                errors[index] = [f"not an object: {show(item)}"]
                continue
            since = 0 if found is None else len(found)
            try:
                items.append(load(item))
            except ValidationError as err:
                errors[index] = err.messages
            else:
                if found is not None and len(found) > since:
                    prefix_since(since, key, index)
        if errors:
            raise ValidationError(errors)
        return tuple(items)
