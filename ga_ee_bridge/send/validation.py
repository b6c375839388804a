"""Checks made before a command is queued, each failing with a ``ValueError`` naming the attribute.

Exponea's limits (reference section 2): at most 255 properties per event and per customer update,
ASCII names, values of at most 16 KB. Values are converted to JSON first (``datetime`` -> Unix
seconds, ``Decimal`` -> number). Customer attributes get the normalisation that is safe: emails
lower-cased and trimmed, ``phone`` in full international format, ``language`` as two letters.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ga_ee_bridge.core.customers import normalise_customer_properties
from ga_ee_bridge.core.ids import check_customer_ids, looks_like_email, normalise_email

__all__ = [
    "MAX_PROPERTIES",
    "MAX_VALUE_BYTES",
    "check_customer_ids",
    "check_event_type",
    "check_properties",
    "looks_like_email",
    "normalise_customer_properties",
    "normalise_email",
    "to_json_value",
]

MAX_PROPERTIES = 255
MAX_VALUE_BYTES = 16 * 1024

_SAFE_STRING = (MAX_VALUE_BYTES - 2) // 6  # even if every character were escaped


def to_json_value(value: Any, where: str) -> Any:
    """Return ``value`` as plain JSON data (datetime -> Unix seconds, Decimal -> number).

    Naive datetimes are taken as UTC; a ``date`` is its midnight UTC. Raises ``ValueError`` naming
    ``where`` for anything JSON cannot carry (sets, objects, NaN, infinity, non-string keys).
    """
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: not a finite number: {value!r}")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{where}: not a finite number: {value!r}")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: object keys must be strings, got {key!r}")
            out[key] = to_json_value(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [to_json_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ValueError(f"{where}: not JSON-serialisable: {type(value).__name__} {value!r:.80}")


def _size(value: Any) -> int:
    if value is None or isinstance(value, bool | int | float):
        return 24  # small whatever the value
    if isinstance(value, str) and len(value) * 6 + 2 <= MAX_VALUE_BYTES:
        return len(value) * 6 + 2  # an upper bound, cheap
    return len(json.dumps(value, ensure_ascii=False).encode())


def check_properties(properties: Mapping[str, Any] | None, where: str = "properties"
                     ) -> dict[str, Any]:
    """Return a JSON-ready copy of ``properties`` or raise ``ValueError`` naming the attribute."""
    if properties is None:
        return {}
    if not isinstance(properties, Mapping):
        raise ValueError(f"{where}: must be a mapping, got {type(properties).__name__}")
    if len(properties) > MAX_PROPERTIES:
        raise ValueError(f"{where}: {len(properties)} properties, at most {MAX_PROPERTIES}")
    out: dict[str, Any] = {}
    for name, value in properties.items():
        if type(name) is not str or not name.isascii() or not name:
            if not isinstance(name, str) or not name:
                raise ValueError(
                    f"{where}: property names must be non-empty strings, got {name!r}")
            if not name.isascii():
                raise ValueError(f"{where}.{name}: property names must be ASCII")
        kind = type(value)
        # Fast path for the common scalars (this runs for every property of every event).
        if (kind is str and len(value) <= _SAFE_STRING) or kind is int or kind is bool \
                or value is None or (kind is float and math.isfinite(value)):
            out[name] = value
            continue
        converted = to_json_value(value, f"{where}.{name}")
        size = _size(converted)
        if size > MAX_VALUE_BYTES:
            raise ValueError(f"{where}.{name}: value is {size} bytes as JSON, at most "
                             f"{MAX_VALUE_BYTES}")
        out[name] = converted
    return out


def check_event_type(event_type: Any) -> str:
    """Return ``event_type`` or raise ``ValueError``: it must be a non-empty ASCII string."""
    if not isinstance(event_type, str) or not event_type.strip():
        raise ValueError(f"event_type: must be a non-empty string, got {event_type!r}")
    if not event_type.isascii():
        raise ValueError(f"event_type: must be ASCII, got {event_type!r}")
    return event_type
