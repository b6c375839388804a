"""The pure API data engines call (Apache Beam, Spark, your own): whole pages in, keyed results out.

An engine cannot keep run-wide state, cut an input anywhere or rely on file names, so the
conversion is split into steps that each depend on their argument alone:

- :func:`split_pages`: one input (a stream, bytes, or an iterable of lines or pushes) with a stable
  ``source_id`` -> :class:`Page`\\ s, each holding whole pages (the converter's own rule of where a
  page begins, :mod:`ga_ee_bridge.convert.page`), safe to move to another worker;
- :func:`convert_page` / :func:`convert_session` (one GA360 ``ga_sessions_*`` row) ->
  :class:`Result`\\ s: a command or a reject, each with its purchase key and an order key;
- :func:`keep_first`: after a group-by on the purchase key, the purchase the CLI would keep
  (earliest time, then ``source_id``, then position) and how many duplicates were dropped;
- :func:`csv_columns`: CSV columns for Bloomreach's event import that do not depend on order.

The same data gives the same results however it is bundled, shuffled or retried: customers (the
page cookie) come from the data and its position in its input, never from a name.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, NamedTuple, cast

from ga_ee_bridge.convert.converter import Converter
from ga_ee_bridge.convert.encoders import ENCODERS
from ga_ee_bridge.convert.input import (
    UNDECODED,
    DumpError,
    RawRecord,
    Source,
    detect_form,
    open_stream,
)
from ga_ee_bridge.convert.options import ConvertOptions
from ga_ee_bridge.convert.outputs import csv_header, csv_row
from ga_ee_bridge.convert.records import decode_line
from ga_ee_bridge.convert.results import ConvertStats, Reject, Segment
from ga_ee_bridge.convert.runner import _CANDIDATE, _Framer, _not_a_dump
from ga_ee_bridge.convert.updates import CUSTOMERS

__all__ = [
    "CsvColumns",
    "Page",
    "Result",
    "convert_page",
    "convert_session",
    "csv_columns",
    "keep_first",
    "merge_csv_columns",
    "session_key",
    "split_pages",
]

#: Records a :class:`Page` gathers (whole pages only) before it is handed on.
PAGE_RECORDS = 1000

#: ``(source_id, line, index, session, sequence)``: sorts results as the CLI writes them.
OrderKey = tuple[str, int, int, str, int]


@dataclass(frozen=True, slots=True)
class Page:
    """Whole pages of one input, with their place in it: what an engine moves between workers.

    ``records`` are raw records (see :mod:`ga_ee_bridge.convert.records`), undecoded where
    possible (text pickles faster than objects); ``session`` names a GA360 session
    (:func:`session_key`).
    """

    source_id: str
    records: tuple[RawRecord, ...]
    session: str = ""

    @property
    def order(self) -> tuple[str, int, int, str]:
        """Where the page starts: ``(source_id, line, index, session)``."""
        line, index = (self.records[0][0], self.records[0][1]) if self.records else (0, None)
        return (self.source_id, line, -1 if index is None else index, self.session)


class Result(NamedTuple):
    """One command (``kind="command"``, the Tracking API batch command as a dict) or one reject
    (``kind="reject"``, the record of the ``--rejects`` file).

    ``transaction`` is the purchase key (a purchase's transaction id, None otherwise): every
    command of one purchase carries it and the same ``order[:-1]``. ``order`` sorts results
    into the CLI's output order.
    """

    kind: str
    value: dict[str, Any]
    transaction: str | None
    order: OrderKey


class _Lines(io.RawIOBase):
    """An iterable of lines (text, bytes) or pushes (decoded JSON) read as JSON lines."""

    def __init__(self, items: Iterable[Any]):
        self._items = iter(items)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            item = next(self._items, None)
            if item is None:
                return 0
            if isinstance(item, str):
                item = item.encode("utf-8")
            elif not isinstance(item, bytes | bytearray):
                item = json.dumps(item).encode("utf-8")
            self._rest = bytes(item) if item.endswith(b"\n") else bytes(item) + b"\n"
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size


def _as_stream(data: bytes | IO[bytes] | Iterable[Any]) -> IO[bytes]:
    if isinstance(data, bytes | bytearray):
        return io.BytesIO(data)
    if hasattr(data, "read"):
        return cast(IO[bytes], data)
    return cast(IO[bytes], io.BufferedReader(_Lines(cast(Iterable[Any], data))))


def split_pages(
    data: bytes | IO[bytes] | Iterable[Any], *, source_id: str, options: ConvertOptions,
    stats: ConvertStats | None = None, page_records: int = PAGE_RECORDS,
) -> Iterator[Page | Reject]:
    """The :class:`Page`\\ s of one whole input (a stream or bytes, maybe gzipped; or an
    iterable of its lines or pushes, in order), cut only where the converter starts a page.

    ``source_id`` (a URI, a table name) names the input in rejects and orders results; it never
    changes a customer. An input that is no dump gives one :class:`Reject`. Counts the input in
    ``stats``.
    """
    stream, head = open_stream(_as_stream(data))
    if stats is None:
        stats = ConvertStats()
    stats.inputs += 1
    with stream:
        try:
            form = detect_form(head, path=source_id, source=options.source)
        except DumpError as err:
            yield _not_a_dump(source_id, err, stats)
            return
        framer = _Framer()
        boundary = framer.boundary
        lines = form.name == "jsonl"
        chunk: list[RawRecord] = []
        for record in form.raw_records(stream, keep_text=True):
            line, index, raw, value = record
            if lines and value is UNDECODED:
                value = decode_line(raw) if _CANDIDATE.search(raw) else None
            if boundary(value) and len(chunk) >= page_records:
                yield Page(source_id, tuple(chunk))
                chunk = []
            if raw is not None and value is not UNDECODED:
                record = (line, index, raw, UNDECODED)
            chunk.append(record)
        if chunk:
            yield Page(source_id, tuple(chunk))


def convert_page(page: Page, options: ConvertOptions, *,
                 stats: ConvertStats | None = None) -> list[Result]:
    """Convert one :class:`Page` into its commands and rejects (before the duplicate check)."""
    converter = Converter(options, ENCODERS["dict"], page.source_id, stats)
    feed = converter.feed
    for record in page.records:
        feed(record)
    converter.finish()
    base = page.order
    results: list[Result] = []
    for number, item in enumerate(converter.out):
        if type(item) is Segment:
            for sequence, (_, command) in enumerate(item.events):
                results.append(Result("command", command, item.transaction,
                                      (*base[:3], f"{base[3]}#{number:09d}", sequence)))
        elif type(item) is Reject:
            results.append(Result("reject", item.to_json(), None,
                                  (*base[:3], f"{base[3]}#{number:09d}", 0)))
    return results


_SESSION_COLUMNS = ("fullVisitorId", "visitId", "visitStartTime")


def session_key(row: dict[str, Any]) -> str:
    """A GA360 session's key: ``fullVisitorId/visitId/visitStartTime`` (as text)."""
    return "/".join("" if row.get(name) is None else str(row[name]) for name in _SESSION_COLUMNS)


def _plain(value: Any) -> Any:
    """What ``ReadFromBigQuery`` yields beyond JSON (NUMERIC, dates) as the export writes it."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def convert_session(row: dict[str, Any], options: ConvertOptions, *, source_id: str,
                    line: int = 0, stats: ConvertStats | None = None) -> list[Result]:
    """Convert one GA360 session row (a ``ga_sessions_*`` row as ``ReadFromBigQuery`` yields it:
    native ints, nested lists) as the BigQuery form of :mod:`ga_ee_bridge.convert.forms` does.

    ``source_id`` (the table) and ``line`` (0: rows have none) name the session in rejects; the
    order key holds :func:`session_key`.
    """
    text = json.dumps(row, default=_plain, allow_nan=False).encode("utf-8")
    page = Page(source_id, ((line, None, None, Source("bq", text)),), session_key(row))
    return convert_page(page, options, stats=stats)


def _purchase_time(results: list[Result]) -> float:
    stamps = [result.value["data"].get("timestamp") for result in results]
    known = [stamp for stamp in stamps if stamp is not None]
    return min(known) if known else math.inf


def keep_first(results: Iterable[Result]) -> tuple[list[Result], int]:
    """Of the commands of one transaction id (after a group-by on :attr:`Result.transaction`),
    the purchase kept: the earliest, then the smallest ``source_id``, then the first in its input.

    Returns its commands in order and how many other purchases (duplicates) were dropped.
    """
    purchases: dict[tuple[Any, ...], list[Result]] = {}
    for result in results:
        purchases.setdefault(result.order[:-1], []).append(result)
    if not purchases:
        return [], 0
    first = min(purchases, key=lambda key: (_purchase_time(purchases[key]), key))
    kept = sorted(purchases[first], key=lambda result: result.order)
    return kept, len(purchases) - 1


# -- CSV for Bloomreach's event import ------------------------------------------------------------


class CsvColumns(NamedTuple):
    """The columns of one event type's CSV (or of the customer import's, :data:`CUSTOMERS`):
    customer id names and property names, sorted."""

    ids: tuple[str, ...]
    properties: tuple[str, ...]
    #: False for customer updates: a customer import has no event time.
    stamped: bool = True

    @property
    def header(self) -> list[str]:
        """The header row (the CLI's rule for names that clash)."""
        return csv_header(list(self.ids), list(self.properties), stamped=self.stamped)

    def row(self, command: dict[str, Any]) -> list[str]:
        """One command's cells under :attr:`header`."""
        data = command["data"]
        return csv_row(data["customer_ids"], data.get("timestamp"), data["properties"],
                       list(self.ids), list(self.properties), stamped=self.stamped)


def csv_columns(commands: Iterable[dict[str, Any]]) -> dict[str, CsvColumns]:
    """The CSV columns per event type of ``commands``, sorted by name: the same whatever the
    order or the split of the commands (merge parts with :func:`merge_csv_columns`)."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for command in commands:
        data = command["data"]
        ids, properties = found.setdefault(data.get("event_type", CUSTOMERS), (set(), set()))
        ids.update(data["customer_ids"])
        properties.update(data["properties"])
    return {kind: CsvColumns(tuple(sorted(ids)), tuple(sorted(properties)), kind != CUSTOMERS)
            for kind, (ids, properties) in sorted(found.items())}


def merge_csv_columns(*parts: dict[str, CsvColumns]) -> dict[str, CsvColumns]:
    """The columns of several parts' :func:`csv_columns` together (in any order)."""
    merged: dict[str, tuple[set[str], set[str]]] = {}
    for part in parts:
        for event_type, columns in part.items():
            ids, properties = merged.setdefault(event_type, (set(), set()))
            ids.update(columns.ids)
            properties.update(columns.properties)
    return {kind: CsvColumns(tuple(sorted(ids)), tuple(sorted(properties)), kind != CUSTOMERS)
            for kind, (ids, properties) in sorted(merged.items())}
