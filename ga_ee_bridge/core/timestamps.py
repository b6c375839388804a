"""Timestamps as dumps carry them: Unix seconds, milliseconds or microseconds, or ISO 8601 text.

Everything becomes integer microseconds since the Unix epoch (UTC), so that "+1 ms" arithmetic is
exact; :func:`micros_to_seconds` gives the float seconds the Tracking API wants.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from ga_ee_bridge.core.limits import MICROS_BELOW as _MICROS_BELOW
from ga_ee_bridge.core.limits import MILLIS_BELOW as _MILLIS_BELOW
from ga_ee_bridge.core.limits import SECONDS_BELOW as _SECONDS_BELOW
from ga_ee_bridge.errors import TimestampError, show

__all__ = [
    "TIE_STEP_US",
    "TimestampError",
    "micros_to_seconds",
    "next_stamp",
    "next_stamp_texts",
    "to_micros",
]

# Magnitude bounds (core.limits): below 1e11 a number is seconds (up to the year 5138), below
# 1e14 milliseconds, below 1e17 microseconds. Nanoseconds are refused rather than guessed.
_NUMERIC = re.compile(r"\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICRO = timedelta(microseconds=1)
#: Microseconds a second (an int divided by it is the correctly rounded float of the seconds).
_PER_SECOND = 1_000_000


def _number_to_micros(value: float | int, original: Any) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        raise TimestampError(f"not a finite number: {show(original)}")
    if value < 0:
        raise TimestampError(f"negative timestamp: {show(original)}")
    if value < _SECONDS_BELOW:
        return int(value * _PER_SECOND) if isinstance(value, int) else round(value * _PER_SECOND)
    if value < _MILLIS_BELOW:
        return int(value * 1_000) if isinstance(value, int) else round(value * 1_000)
    if value < _MICROS_BELOW:
        return int(value) if isinstance(value, int) else round(value)
    raise TimestampError(
        f"too large for seconds, milliseconds or microseconds: {show(original)}"
    )


@lru_cache(maxsize=4096)
def _text_to_micros(text: str) -> int:
    if _NUMERIC.fullmatch(text):
        number = float(text) if any(c in text for c in ".eE") else int(text)
        return _number_to_micros(number, text)
    from dateutil.parser import isoparse  # here: most dumps carry numbers

    try:
        moment = isoparse(text.strip())
    except (ValueError, OverflowError):
        raise TimestampError(
            f"not a timestamp: {show(text)} (expected Unix seconds, milliseconds, "
            "microseconds or ISO 8601 such as '2024-03-01T12:00:00Z')"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive means UTC
    micros: int = (moment - _EPOCH) // _ONE_MICRO
    if micros < 0:
        raise TimestampError(f"before 1970: {show(text)}")
    return micros


def to_micros(value: Any) -> int:
    """Read a timestamp as integer microseconds since the epoch; raises :class:`TimestampError`.

    Numbers (and numeric text) are seconds, milliseconds or microseconds, told apart by magnitude;
    other text is ISO 8601, naive meaning UTC.
    """
    if isinstance(value, bool) or value is None:
        raise TimestampError(f"not a timestamp: {show(value)}")
    if isinstance(value, int | float):
        return _number_to_micros(value, value)
    if isinstance(value, str):
        return _text_to_micros(value)
    raise TimestampError(f"not a timestamp: {show(value)}")


#: Events of one customer never share a time: a tie (or a step back) moves on by this much (1 ms).
TIE_STEP_US = 1_000


def next_stamp(last_us: int, ts_us: int) -> int:
    """``ts_us``, or 1 ms after ``last_us`` when it is not later: the one tie rule, in microseconds.

    The client stamps calls with it and the converter a page's events, so both keep a customer's
    events in order on the server, which sorts by time.
    """
    return ts_us if ts_us > last_us else last_us + TIE_STEP_US


def micros_to_seconds(micros: int) -> float:
    """Integer microseconds -> float Unix seconds (correctly rounded, so 1.001 prints as 1.001)."""
    return micros / _PER_SECOND


#: ``repr`` of ``n / 1000`` without its ``0``, ``n`` in 0..999: a stamp's fraction of a second on
#: a whole millisecond (".001", ".12", ".0").
_MILLIS_TEXT = tuple("." + (f"{n:03d}".rstrip("0") or "0") for n in range(1000))
#: Below this many microseconds (2**33 seconds: the year 2242) two floats are less than 1 us
#: apart, so the microseconds' decimal is the shortest text of its float: its ``repr``.
_TEXT_BELOW = (1 << 33) * _PER_SECOND


def next_stamp_texts(last_us: int, ts_us: int, count: int) -> tuple[list[str], int]:
    """:func:`next_stamp` applied ``count`` times from ``last_us`` (``count`` >= 1): the JSON
    text of each stamp in Unix seconds, ``repr(micros_to_seconds(us))``, and the last in us.

    After the first, each is 1 ms after the one before, so a push's events are stamped in one
    call. Stamps on whole milliseconds within one second (the usual group) are written from
    their integer parts, without a float: ``repr`` of such a float is that exact decimal (see
    :data:`_TEXT_BELOW`); for a group of 10, a fifth of the time a stamp (``repr`` of a float of
    16 digits is 7% of a realistic conversion's instructions).
    """
    first = ts_us if ts_us > last_us else last_us + TIE_STEP_US
    end = first + count * TIE_STEP_US
    seconds, rest = divmod(first, _PER_SECOND)
    if (rest % TIE_STEP_US or first < 0 or end >= _TEXT_BELOW
            or rest + count * TIE_STEP_US > _PER_SECOND):
        return ([repr(stamp / _PER_SECOND) for stamp in range(first, end, TIE_STEP_US)],
                end - TIE_STEP_US)
    head, millis = str(seconds), rest // TIE_STEP_US
    return [head + _MILLIS_TEXT[n] for n in range(millis, millis + count)], end - TIE_STEP_US
