"""What a conversion yields: per-push segments, encoded runs, rejects with reasons, and stats."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["CUSTOMERS_SEGMENT", "ConvertStats", "Item", "Reject", "Run", "Segment"]

#: How the ``transaction`` of a ``customers`` command's segment starts (``--update``): its
#: duplicates are dropped like repeated purchases, but always. No transaction id starts so.
CUSTOMERS_SEGMENT = "\x00customers\x00"


@dataclass(slots=True)
class ConvertStats:
    """Counts of one conversion (summed over worker processes)."""

    inputs: int = 0
    pushes: int = 0
    ecommerce: int = 0
    skipped: int = 0
    pages: int = 0
    #: GTM click pushes that matched ``--link`` rules (neither ecommerce nor skipped).
    links: int = 0
    #: ``customers`` commands written (``--update``), duplicates left out.
    customers: int = 0
    events: Counter[str] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    #: Input keys the reader left out, by path with indices removed (``purchase.products[].sku``).
    dropped: Counter[str] = field(default_factory=Counter)
    #: Where each dropped path was first seen (``file:line``).
    dropped_first: dict[str, str] = field(default_factory=dict)
    #: GA4 / gtag.js ecommerce events with no UA counterpart (``view_cart``...), skipped, by name.
    unsupported: Counter[str] = field(default_factory=Counter)
    #: Where each such event was first seen (``file:line``).
    unsupported_first: dict[str, str] = field(default_factory=dict)
    #: Values the lenient reader could not use and left out (the events kept), by kind:
    #: ``path with indices removed: message's first part`` (``detail.products[].brand: not text``).
    warnings: Counter[str] = field(default_factory=Counter)
    #: Where each kind of warning was first seen (``file:line path``) and its first message.
    warnings_first: dict[str, str] = field(default_factory=dict)
    #: gtag.js events whose ``send_to`` names only other products (``AW-``...), by event name.
    not_for_analytics: Counter[str] = field(default_factory=Counter)
    #: Where each such event was first seen (``file:line``).
    not_for_analytics_first: dict[str, str] = field(default_factory=dict)
    #: Bytes read from the input files so far (compressed bytes for gzip): for progress.
    bytes_read: int = 0

    def add(self, other: ConvertStats) -> None:
        """Add the counts of ``other`` (any part of the same run) to these.

        Parts merge in any order with the same result: of two "first seen" places the smaller
        ``(input, line)`` is kept (what an engine's shuffle needs).
        """
        self.inputs += other.inputs
        self.bytes_read += other.bytes_read
        self.pushes += other.pushes
        self.ecommerce += other.ecommerce
        self.skipped += other.skipped
        self.pages += other.pages
        self.links += other.links
        self.customers += other.customers
        self.events.update(other.events)
        self.rejects.update(other.rejects)
        self.duplicates += other.duplicates
        self.dropped.update(other.dropped)
        _merge_first(self.dropped_first, other.dropped_first)
        self.unsupported.update(other.unsupported)
        _merge_first(self.unsupported_first, other.unsupported_first)
        self.warnings.update(other.warnings)
        _merge_first(self.warnings_first, other.warnings_first)
        self.not_for_analytics.update(other.not_for_analytics)
        _merge_first(self.not_for_analytics_first, other.not_for_analytics_first)

    def count_bytes(self, size: int) -> None:
        """Count ``size`` more input bytes read (the reader's callback)."""
        self.bytes_read += size

    @property
    def rejected(self) -> int:
        """How many pushes (or broken records) were rejected."""
        return sum(self.rejects.values())


_WHERE = re.compile(r"(.*):(\d+)((?: .*)?)", re.DOTALL)


def where_key(where: str) -> tuple[str, int, str]:
    """``(input, line, rest)`` of a "first seen" place (``file:line [3]``), for ordering."""
    match = _WHERE.fullmatch(where)
    return (match[1], int(match[2]), match[3]) if match else (where, 0, "")


def _merge_first(mine: dict[str, str], theirs: dict[str, str]) -> None:
    for key, where in theirs.items():
        known = mine.get(key)
        if known is None or where_key(where) < where_key(known):
            mine[key] = where


@dataclass(frozen=True, slots=True)
class Reject:
    """A push (or piece of input) that could not be converted, with where and why.

    ``errors`` holds ``(path, message, value)``: ``path`` from the record's root (``[12].ecommerce
    .purchase.actionField.id`` for the 13th push of a list, ``dataLayer[3]...`` in a page object),
    ``value`` the value found there (:data:`None` when there is none).
    """

    input: str
    line: int
    index: int | None
    reason: str
    errors: tuple[tuple[str, str, Any], ...]
    push: Any

    def to_json(self) -> dict[str, Any]:
        """The JSON record of ``--rejects``."""
        return {
            "input": self.input,
            "line": self.line,
            "index": self.index,
            "reason": self.reason,
            "errors": [
                {"path": path, "message": message, "value": value}
                for path, message, value in self.errors
            ],
            "push": self.push,
        }

    def report_lines(self) -> list[str]:
        """``file:line path: message``, one per error (what ``validate`` prints)."""
        return [
            f"{self.input}:{self.line} {path}: {message}" if path
            else f"{self.input}:{self.line}: {message}"
            for path, message, _ in self.errors
        ]


class Segment(NamedTuple):
    """Converted events of one push, in order; ``transaction`` set for a purchase (dedup).

    A ``customers`` command (``--update``) is a segment of its own whose ``transaction`` starts
    with :data:`CUSTOMERS_SEGMENT`.
    """

    transaction: str | None
    events: list[tuple[str, Any]]


class Run(NamedTuple):
    """Several pushes' encoded commands, joined (from worker processes: less to pickle).

    ``counts`` are events per type, only ever summed: a worker puts those of all of a task's
    runs on its first one and leaves the others' empty.
    """

    text: str
    counts: dict[str, int]


Item = Segment | Reject | Run
