"""Schemas for forms whose keys are not UA's (Measurement Protocol, BigQuery export).

A :class:`RenamedSchema` loads a field object written under another form's keys (``nm``,
``v2ProductName``...) into the same model objects the UA reader makes, so every form feeds the same
mappings. ``raw`` holds the values under UA's keys, so that the ``sdk-exact`` mapping finds them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from marshmallow import ValidationError

from ga_ee_bridge.core.model import FieldObject
from ga_ee_bridge.core.numbers import NumberError, check_int, parse_int_text, parse_number
from ga_ee_bridge.errors import show
from ga_ee_bridge.readers._fields import Count, LenientField, Text, warn
from ga_ee_bridge.readers._schema import BaseSchema, blank

__all__ = ["Flag", "IntText", "Micros", "NotSetText", "RenamedSchema", "blank", "custom_value"]

_INT_TEXT = re.compile(r"\s*-?\d+\s*")
_MICROS = 1_000_000
_MAX_TEXT_BITS = 3000  # about 900 digits; Python refuses to print ints of over 4,300
#: BigQuery's INT64: the largest amount of micros a column can hold.
_MAX_MICROS = 2**63


class IntText(Count):
    """An integer that may arrive as text even from a well-behaved sender.

    Query strings are all text and BigQuery's JSON export writes INT64 as text, so strict mode
    accepts ``"2"`` here (but still not ``"2.0"`` or ``"two"``).
    """

    def _read(self, value: Any) -> int | None:
        if isinstance(value, str) and _INT_TEXT.fullmatch(value):
            try:
                return parse_int_text(value)
            except NumberError as err:
                raise ValidationError(str(err)) from None
        return super()._read(value)


class NotSetText(Text):
    """Text where GA's placeholder ``"(not set)"`` means absent (BigQuery export rows have it)."""

    def _read(self, value: Any) -> str | None:
        text = super()._read(value)
        return None if text == "(not set)" else text


class Micros(LenientField):
    """A currency value stored as an integer number of millionths (2.40 -> 2400000) -> units.

    Integer division by 10**6 is correctly rounded, so any amount with up to 6 decimals comes back
    as the same float it was written from.
    """

    def _read(self, value: Any) -> float | None:
        try:
            if isinstance(value, str):
                if not value.strip():
                    return None
                if _INT_TEXT.fullmatch(value):
                    return parse_int_text(value, limit=_MAX_MICROS) / _MICROS
            if isinstance(value, int) and not isinstance(value, bool):
                return check_int(value, limit=_MAX_MICROS) / _MICROS
            if self.strict:
                raise ValidationError(f"not an integer amount of micros: {show(value)}")
            number = parse_number(value)
            if not number.is_integer():
                raise ValidationError(f"not an integer amount of micros: {show(value)}")
            return check_int(int(number), value, limit=_MAX_MICROS) / _MICROS
        except NumberError as err:
            raise ValidationError(str(err)) from None


class Flag(LenientField):
    """A boolean; lenient mode also reads ``"true"``/``"false"``, ``1``/``0``."""

    _TEXT: ClassVar[dict[str, bool]] = {"true": True, "false": False, "1": True, "0": False}

    def _read(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if not self.strict:
            if isinstance(value, str) and value.strip().lower() in self._TEXT:
                return self._TEXT[value.strip().lower()]
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
        raise ValidationError(f"not true or false: {show(value)}")


class RenamedSchema(BaseSchema):
    """Loads one field object written under another form's keys into ``model``.

    Declare the fields under the model's attribute names with ``data_key`` set to the form's key.
    ``_custom`` reads the form's custom dimensions and metrics into ``dimensionN`` / ``metricN``;
    ``ignored`` names keys that are understood but deliberately not read (not ``dropped``).
    ``raw`` gets the loaded (typed) values under UA's keys when ``typed_raw``, else the values as
    given.
    """

    model: ClassVar[type[FieldObject]]
    needs_id_or_name: ClassVar[bool] = False
    ignored: ClassVar[frozenset[str]] = frozenset()
    typed_raw: ClassVar[bool] = False

    def _custom(
        self, original: Mapping[str, Any], errors: dict[str, Any]
    ) -> dict[str, str | float]:
        """Custom dimensions/metrics of ``original``; bad ones go into ``errors`` by key."""
        return {}

    def _is_custom_key(self, key: str) -> bool:
        return False

    def _problem(self, errors: dict[str, Any], key: str, messages: Any, value: Any) -> None:
        """A bad value of ``key``: an error in strict mode, else left out with a warning."""
        if self.strict:
            errors[key] = messages
        else:
            text = "; ".join(messages) if isinstance(messages, list) else str(messages)
            warn((key,), f"{text} (left out)", value)

    def _validate(self, data: dict[str, Any], original: Mapping[str, Any]) -> None:
        errors: dict[str, Any] = {}
        if self.needs_id_or_name:
            by_name = {name: key for key, (name, _) in self._by_key.items()}
            if all(
                self._absent(data, original, by_name[name], name)
                or original.get(by_name[name]) == "(not set)"
                for name in ("id", "name")
                if name in by_name
            ):
                errors["_schema"] = [f"needs an id or a name, found neither: {show(original)}"]
        custom = self._custom(original, errors)
        if errors:
            raise ValidationError(errors)
        data["\0custom"] = custom

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> Any:
        custom = data.pop("\0custom", None) or {}
        extra = {key: data.pop(key) for key in [k for k in data if k.startswith("_")]}
        values = self._choose(data, extra)
        by_key = self._by_key
        if self.typed_raw:
            raw: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
        else:
            raw = {
                by_key[key][0]: value for key, value in original.items()
                if key in by_key and not by_key[key][0].startswith("_")
            }
        raw.update(custom)
        dropped = tuple(
            key for key in original
            if key not in by_key and key not in self.ignored and not self._is_custom_key(key)
        )
        return self.model(
            raw=MappingProxyType(raw),
            custom=MappingProxyType(custom),
            dropped=dropped,
            **values,
        )

    def _choose(self, data: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        """Hook: combine the model values with extra loaded values (``_``-prefixed names)."""
        return data


def custom_value(key: str, value: Any, *, strict: bool) -> str | float:
    """A ``dimensionN`` (text) or ``metricN`` (number) value; ValidationError names the value."""
    if key.startswith("metric"):
        try:
            return parse_number(value, strict=strict)
        except NumberError as err:
            raise ValidationError(str(err)) from None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        if strict:
            raise ValidationError(f"expected text, got a number: {show(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"not a finite number: {show(value)}")
        if isinstance(value, int) and value.bit_length() > _MAX_TEXT_BITS:
            raise ValidationError(f"number too large: {show(value)}")
        return str(value)
    raise ValidationError(f"not text: {show(value)}")
