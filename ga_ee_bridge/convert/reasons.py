"""Why a push (or a piece of input) was rejected: the one list of reasons the rejects file uses."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RejectReason"]


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
