"""Checks made before a command is queued, each failing with a ``ValueError`` naming the attribute.

The one home of the Tracking API's rules at the call (limits from :mod:`ga_ee_bridge.core.limits`):
ASCII names; each value less than 16 KB; a message less than 800 KB; timestamps in Unix seconds
(a ``datetime`` or ISO 8601 text is converted; a number that is clearly milliseconds or
microseconds is refused, saying so). More than 255 properties only log a WARNING: 255 is a
profile's attribute limit, not a published per-event rule. Values are converted to JSON first
(``datetime`` -> Unix seconds, ``Decimal`` -> number). Customer attributes get the normalisation
that is safe: emails lower-cased and trimmed, ``phone`` in full international format,
``language`` as two letters.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ga_ee_bridge.core.customers import normalise_customer_properties
from ga_ee_bridge.core.ids import check_customer_ids, looks_like_email, normalise_email
from ga_ee_bridge.core.limits import (
    MAX_MESSAGE_BYTES,
    MAX_PROFILE_ATTRIBUTES,
    MAX_VALUE_BYTES,
    MICROS_BELOW,
    MILLIS_BELOW,
    SECONDS_BELOW,
)
from ga_ee_bridge.core.timestamps import to_micros
from ga_ee_bridge.errors import TimestampError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_PROPERTIES",
    "MAX_VALUE_BYTES",
    "check_customer_ids",
    "check_event_type",
    "check_message_size",
    "check_properties",
    "check_timestamp",
    "looks_like_email",
    "normalise_customer_properties",
    "normalise_email",
    "to_json_value",
    "warn_many_properties",
]

logger = logging.getLogger("ga_ee_bridge.send.validation")

#: Kept for callers of 0.2: the profile's attribute limit; more properties only warn now.
MAX_PROPERTIES = MAX_PROFILE_ATTRIBUTES

_SAFE_STRING = (MAX_VALUE_BYTES - 1) // 4  # below the limit even if every character took 4 bytes
_warned_types: set[str] = set()


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
    """A value's size as the API counts it: text as UTF-8 bytes, anything else as JSON."""
    if value is None or isinstance(value, bool | int | float):
        return 24  # small whatever the value
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode())
    return len(json.dumps(value, ensure_ascii=False).encode())


def warn_many_properties(count: int, where: str) -> None:
    """Log one WARNING (per ``where``) when a message carries more than 255 properties.

    255 is the number of attributes a customer profile stores; no per-event limit is published,
    so the message is sent as it is.
    """
    if count > MAX_PROFILE_ATTRIBUTES and where not in _warned_types:
        _warned_types.add(where)
        logger.warning("%s: %d properties; a customer profile stores at most %d attributes "
                       "(sent anyway: no per-event limit is published)", where, count,
                       MAX_PROFILE_ATTRIBUTES)


def check_message_size(size: int, where: str) -> None:
    """Raise ``ValueError`` unless a message of ``size`` bytes (as JSON) is less than 800 KB."""
    if size >= MAX_MESSAGE_BYTES:
        raise ValueError(f"{where}: the message is {size:,} bytes as JSON; the Tracking API takes "
                         f"less than {MAX_MESSAGE_BYTES:,} (800 KB)")


def check_timestamp(value: Any, where: str) -> float:
    """Unix seconds from seconds, a ``datetime`` or ISO 8601 text; ``ValueError`` otherwise.

    The API reads every number as seconds ("no automatic recognition of milliseconds"), so a
    number that is clearly milliseconds or microseconds is refused with a message saying so.
    """
    if isinstance(value, dt.date):
        converted = to_json_value(value, where)
        if converted < 0:
            raise ValueError(f"{where}: before 1970: {value!r}")
        return float(converted)
    if isinstance(value, str):
        text = value.strip()
        try:
            float(text)
        except ValueError:
            try:
                return to_micros(text) / 1_000_000
            except TimestampError:
                raise ValueError(f"{where}: not a timestamp: {value!r:.80} (expected Unix "
                                 "seconds, a datetime or ISO 8601 text such as "
                                 "'2024-03-01T12:00:00Z')") from None
        value = float(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: must be Unix seconds, a datetime or ISO 8601 text, "
                         f"got {value!r:.80}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: must be Unix seconds (a finite number >= 0), got {value!r}")
    if value >= SECONDS_BELOW:
        unit, factor = (("milliseconds", 1_000) if value < MILLIS_BELOW
                        else ("microseconds", 1_000_000) if value < MICROS_BELOW
                        else ("", 0))
        if not unit:
            raise ValueError(f"{where}: {value!r} is too large for a timestamp in seconds")
        raise ValueError(
            f"{where}: {value!r} looks like {unit}; the Tracking API reads every number as Unix "
            f"seconds (this would be the year {int(1970 + value / 31_556_952):,}): send "
            f"{value / factor!r} or a datetime")
    return float(value)


def check_properties(properties: Mapping[str, Any] | None, where: str = "properties"
                     ) -> dict[str, Any]:
    """Return a JSON-ready copy of ``properties`` or raise ``ValueError`` naming the attribute.

    ``None`` (what the official clients send for "no properties") is an empty mapping.
    """
    if properties is None:
        return {}
    if not isinstance(properties, Mapping):
        raise ValueError(f"{where}: must be a mapping, got {type(properties).__name__}")
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
        if size >= MAX_VALUE_BYTES:
            raise ValueError(f"{where}.{name}: value is {size:,} bytes; the Tracking API takes "
                             f"less than {MAX_VALUE_BYTES:,} (16 KB)")
        out[name] = converted
    return out


def check_event_type(event_type: Any) -> str:
    """Return ``event_type`` or raise ``ValueError``: it must be a non-empty ASCII string."""
    if not isinstance(event_type, str) or not event_type.strip():
        raise ValueError(f"event_type: must be a non-empty string, got {event_type!r}")
    if not event_type.isascii():
        raise ValueError(f"event_type: must be ASCII, got {event_type!r}")
    return event_type
