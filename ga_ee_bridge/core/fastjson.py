"""Whether the optional fast JSON library (orjson, the extra ``fast``) is used: one home for it.

Used where it gives exactly the standard library's answer (decoding dump lines, encoding the
commands the sender posts); ``GA_EE_BRIDGE_JSON=stdlib`` turns it off, and without orjson
installed everything is the standard library's. orjson is imported lazily and only here, so the
core stays the standard library for anyone without the extra.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["ENV", "fast_json", "maybe_not_json", "passthrough_options"]

#: The environment variable that chooses: ``stdlib`` turns orjson off.
ENV = "GA_EE_BRIDGE_JSON"


def fast_json() -> ModuleType | None:
    """The ``orjson`` module when it is installed and :data:`ENV` does not say ``stdlib``."""
    if os.environ.get(ENV, "").strip().lower() == "stdlib":
        return None
    try:
        import orjson
    except ImportError:
        return None
    return orjson


#: Every digit made ``0`` (for :func:`maybe_not_json`: three substring searches cost a third of
#: one regular expression).
_DIGITS_AS_ZERO = bytes(48 if 48 <= byte <= 57 else byte for byte in range(256))


def maybe_not_json(raw: bytes) -> bool:
    """True where orjson's text ``raw`` may not be the bytes ``json`` writes for the same value.

    orjson and ``json`` write the same strings, integers and shortest floats, except a float with
    an exponent (a digit then ``e``) or under 1e-4 (``json`` writes ``1e-05``, orjson
    ``0.00001``), and orjson writes ``null`` for NaN (``json`` refuses it). A string that merely
    looks like one of these only sends the value to ``json``.
    """
    return b"null" in raw or b"0.0000" in raw or b"0e" in raw.translate(_DIGITS_AS_ZERO)


def passthrough_options(orjson: ModuleType) -> int:
    """orjson's options that refuse what ``json`` cannot encode either (subclasses, dataclasses
    and datetimes are encoded by orjson but not by ``json``): those go to ``json``."""
    return int(orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
               | orjson.OPT_PASSTHROUGH_DATETIME)
