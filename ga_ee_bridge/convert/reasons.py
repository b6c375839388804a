"""Why a push (or a piece of input) was rejected: the reasons, and the rule for the unforeseen.

:class:`RejectReason` is the one list of reasons the rejects file uses; :func:`fault_of` is the one
rule turning an unexpected exception into a reason and a cause.
"""

from __future__ import annotations

import sys
from enum import StrEnum

__all__ = ["MAX_DEPTH", "RejectReason", "fault_of"]

#: The deepest nesting of objects and lists a record may have (GTM pushes nest a few levels; a
#: deeper one would exhaust Python's recursion somewhere later).
MAX_DEPTH = 200


class RejectReason(StrEnum):
    """A reject's ``reason``; each member is also the plain text written (``"broken JSON"``)."""

    #: A line or a stretch of JSON text that does not decode.
    BROKEN_JSON = "broken JSON"
    #: A Measurement Protocol line that is no hit at all.
    BROKEN_HIT = "broken hit"
    #: The input cannot be read on (damaged gzip, an I/O error); everything before it was read.
    UNREADABLE_INPUT = "unreadable input"
    #: A whole input that is no dump of any form.
    NOT_A_DUMP = "not a dump"
    #: Ecommerce data the reader refused (every bad path with its value).
    INVALID_ECOMMERCE = "invalid ecommerce"
    #: A customer id in the state that cannot be an id.
    BAD_CUSTOMER_ID = "bad customer id"
    #: A ``--update`` value in the state that cannot be a customer property (left out of the
    #: ``customers`` command; the push's events are kept).
    BAD_CUSTOMER_PROPERTY = "bad customer property"
    #: A timestamp in the state that cannot be read.
    BAD_TIMESTAMP = "bad timestamp"
    #: No timestamp was set before the page ended (and ``--no-timestamp-ok`` was not given).
    NO_TIMESTAMP = "no timestamp"
    #: Page metadata that cannot be used (it is ignored; the page converts).
    BAD_PAGE = "bad page metadata"
    #: A record nested deeper than :data:`MAX_DEPTH` levels.
    TOO_DEEP = "too deeply nested"
    #: A number with more digits than Python reads (4,300), or too large for a float.
    NUMBER_TOO_LARGE = "number too large"
    #: Bytes that are not UTF-8 text.
    NOT_UTF8 = "not UTF-8"
    #: A record (a line, a push) longer than the most a record may have (``--max-record-size``).
    TOO_LARGE = "record too large"
    #: The converter failed on this unit in a way it does not foresee (a bug: please report it);
    #: the unit is rejected and the run goes on.
    CONVERSION_FAILED = "conversion failed"


_DIGITS = "integer string conversion"


def fault_of(err: BaseException) -> tuple[RejectReason, str]:
    """The reason and the cause (a short text) of an unexpected exception while reading or
    converting one unit; every exception maps to one (``conversion failed`` when unforeseen)."""
    text = _text(err)
    if isinstance(err, RecursionError):
        return RejectReason.TOO_DEEP, f"too deeply nested (more than {MAX_DEPTH} levels)"
    if isinstance(err, UnicodeError):
        reason = getattr(err, "reason", text)
        return RejectReason.NOT_UTF8, f"not UTF-8 text ({reason})"
    if isinstance(err, OverflowError) or (isinstance(err, ValueError) and _DIGITS in text):
        limit = sys.get_int_max_str_digits()
        detail = f"more than {limit:,} digits" if _DIGITS in text else text
        return RejectReason.NUMBER_TOO_LARGE, f"number too large ({detail})"
    if isinstance(err, MemoryError):
        return RejectReason.TOO_LARGE, "too large to hold in memory"
    return RejectReason.CONVERSION_FAILED, (
        f"the conversion failed ({type(err).__name__}: {text}); the rest of the input was "
        "converted. This is a bug in ga-ee-bridge: please report it with this record"
    )


def _text(err: BaseException) -> str:
    try:
        text = str(err)
    except Exception:
        return ""
    return text if len(text) <= 300 else text[:297] + "..."
