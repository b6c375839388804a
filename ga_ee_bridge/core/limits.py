"""The Tracking API's limits and the library's own bounds, in one table (``docs/limits.md``).

Every module that checks a limit reads it here. Sizes are in bytes (1 KB = 1,024 bytes); the API's
"less than" rules are strict: a value of exactly :data:`MAX_VALUE_BYTES` is refused.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "LIMITS",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_COMMANDS",
    "MAX_MESSAGE_BYTES",
    "MAX_PROFILE_ATTRIBUTES",
    "MAX_VALUE_BYTES",
    "MICROS_BELOW",
    "MILLIS_BELOW",
    "RATE_LIMIT_PER_MINUTE",
    "SECONDS_BELOW",
    "Limit",
]

#: Commands in one batch request (documented).
MAX_BATCH_COMMANDS = 50
#: An event or customer message must be *less than* this (documented: "less than 800 KB").
MAX_MESSAGE_BYTES = 800 * 1024
#: Each property value must be *less than* this (documented: "less than 16 KB").
MAX_VALUE_BYTES = 16 * 1024
#: Attributes a customer profile stores (documented); no per-event limit is published, so more
#: properties on one event or update only log a warning.
MAX_PROFILE_ATTRIBUTES = 255
#: Bytes in one batch request: the API publishes none (a well-known connector keeps under 30 MB);
#: the library's own bound, well under that, so that one request never grows unbounded.
MAX_BATCH_BYTES = 10 * 1024 * 1024
#: The API's default rate limit per IP (documented); over it: 429, and the data is discarded.
RATE_LIMIT_PER_MINUTE = 6000
#: Magnitude bounds of timestamps: below this a number is Unix seconds (up to the year 5138) ...
SECONDS_BELOW = 1e11
#: ... below this milliseconds ...
MILLIS_BELOW = 1e14
#: ... below this microseconds (nanoseconds are refused rather than guessed).
MICROS_BELOW = 1e17


class Limit(NamedTuple):
    """A row of ``docs/limits.md``: the constant's name, its value as shown, and what it bounds."""

    name: str
    value: str
    meaning: str


LIMITS: tuple[Limit, ...] = (
    Limit("MAX_BATCH_COMMANDS", f"{MAX_BATCH_COMMANDS}",
          "commands in one batch request (the API's rule)"),
    Limit("MAX_MESSAGE_BYTES", f"{MAX_MESSAGE_BYTES:,} bytes (800 KB)",
          "an event or customer command as JSON must be less than this (the API's rule)"),
    Limit("MAX_VALUE_BYTES", f"{MAX_VALUE_BYTES:,} bytes (16 KB)",
          "each property value must be less than this: text as UTF-8, other values as JSON "
          "(the API's rule)"),
    Limit("MAX_PROFILE_ATTRIBUTES", f"{MAX_PROFILE_ATTRIBUTES}",
          "attributes a customer profile stores (the API's rule); more properties on one event "
          "or update log a WARNING and are sent"),
    Limit("MAX_BATCH_BYTES", f"{MAX_BATCH_BYTES:,} bytes (10 MB)",
          "bytes in one batch request (ours: the API publishes no limit)"),
    Limit("RATE_LIMIT_PER_MINUTE", f"{RATE_LIMIT_PER_MINUTE:,}",
          "requests a minute per IP, the API's default rate limit (use `max_rps` to stay under)"),
    Limit("SECONDS_BELOW", f"{SECONDS_BELOW:.0e}",
          "a numeric timestamp at or above this is not Unix seconds: the client refuses it "
          "(milliseconds below 1e14, microseconds below 1e17, as the message says)"),
)
