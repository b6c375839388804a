"""Reading dataLayer dumps: every form, streamed, with every unreadable part reported.

A dump is read as a stream of *records* ``(line, index, value)``: ``value`` is one dataLayer push
(any JSON value), a :class:`PageStart` / :data:`PAGE_END` marker around the pushes of a page object
(``{"dataLayer": [...], "url": ...}``), or a :class:`Broken` record for text that is not JSON.
``line`` is the line the record starts on, ``index`` its position in the enclosing list (None for a
JSONL line).

The form is detected from the content (after gzip, told by its magic bytes), never the file name:

- ``json``: JSON text: a list of pushes (``JSON.stringify(dataLayer)``), a page object, or several
  of them one after the other. Streamed with ``json.JSONDecoder.raw_decode`` over buffered chunks
  (measured faster than ijson's C backend for this: 1.2 against 1.6 us a push). A truncated or
  broken file yields a :class:`Broken` record saying where it broke, after every push before it.
- ``jsonl``: one JSON value a line (a push or a page object). A line that is not JSON is a
  :class:`Broken` record and reading goes on with the next line.

Three more forms carry other GA data; their records hold a :class:`Source` value that the
converter expands (:mod:`ga_ee_bridge.convert.forms`), in a worker process with ``--jobs``:

- ``mp``: Measurement Protocol hits, one a line (``/collect`` payloads, ``/batch`` bodies), bare or
  as ``TIME<TAB>HIT`` or ``{"timestamp": TIME, "hit": HIT}`` (a batch body: hits one a line);
- ``bq``: GA360 BigQuery export rows (``ga_sessions_*``), one session a line (NDJSON);
- ``analyticsjs``: analytics.js command lists: a JSON list of ``["ec:addProduct", {...}]``
  arrays, JSONL of such arrays, or page objects ``{"commands": [...], "timestamp": ...}``.

Forms are pluggable: :data:`FORMS` lists them in detection order.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol

from ga_ee_bridge.convert.gunzip import GZIP_MAGIC, Gunzip
from ga_ee_bridge.convert.json_stream import (
    CHUNK,
    MAX_RECORD,
    BrokenJson,
    Scanner,
    json_values,
    jsonl_blocks,
)
from ga_ee_bridge.convert.records import (
    PAGE_END,
    READ_ERRORS,
    UNDECODED,
    Broken,
    PageStart,
    RawRecord,
    Record,
    Source,
    decode_raw,
    decode_record,
    is_gtm_js,
    is_page_object,
    too_large,
    unreadable,
)
from ga_ee_bridge.convert.sniff import looks_like, shown_start
from ga_ee_bridge.errors import DumpError
from ga_ee_bridge.readers.gtag import COMMANDS as GTAG_COMMANDS
from ga_ee_bridge.readers.mp import is_mp_hit

#: How many bytes the form detection looks at.
HEAD_SIZE = 1 << 16
#: The read buffer of an opened input: lines are read through it, bigger reads (blocks of JSON
#: lines, JSON text) bypass it. Each read is counted in ``bytes_read`` (the one-process
#: conversion hands its results over after each), so it also bounds the results held.
READ_SIZE = 1 << 18
_BOMS = (b"\xef\xbb\xbf",)

__all__ = [
    "FORMS",
    "PAGE_END",
    "UNDECODED",
    "Broken",
    "DumpError",
    "InputForm",
    "PageStart",
    "RawRecord",
    "Record",
    "Source",
    "decode_raw",
    "detect_form",
    "input_name",
    "is_gtm_js",
    "is_page_object",
    "jsonl_blocks",
    "open_input",
    "open_stream",
    "read_dump",
]

def input_name(path: str) -> str:
    """How an input is named in reports: its path as given, ``<stdin>`` for ``-``."""
    return "<stdin>" if path == "-" else path


# -- opening and detecting ---------------------------------------------------------------------


class _Prefixed(io.RawIOBase):
    """A raw stream that replays ``head`` before reading on from ``rest`` (peeking for pipes)."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head = memoryview(head)
        self._rest = rest
        self._readinto = getattr(rest, "readinto", None)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        if self._readinto is not None:  # straight into the caller's buffer: no copy held
            return self._readinto(buffer) or 0
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._rest is not sys.stdin.buffer:
            self._rest.close()
        super().close()


def _peek(stream: IO[bytes], size: int) -> tuple[bytes, IO[bytes]]:
    """The first ``size`` bytes and a stream replaying them; a damaged stream gives what it can
    (its error comes again when reading on)."""
    pieces: list[bytes] = []
    got = 0
    try:
        while got < size:
            piece = stream.read(min(8192, size - got))
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
    except READ_ERRORS:
        pass
    head = b"".join(pieces)
    return head, io.BufferedReader(_Prefixed(head, stream), READ_SIZE)


class _Counting(io.RawIOBase):
    """A raw stream that reports how many bytes were read from it (progress: compressed bytes)."""

    def __init__(self, source: IO[bytes], count: Callable[[int], None]):
        self._source = source
        self._count = count
        self._readinto = getattr(source, "readinto", None)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._readinto is not None:  # straight into the caller's buffer: no copy held
            size = self._readinto(buffer) or 0
        else:
            data = self._source.read(len(buffer))
            size = len(data)
            buffer[:size] = data
        self._count(size)
        return size

    def close(self) -> None:
        if self._source is not sys.stdin.buffer:
            self._source.close()
        super().close()


def open_input(path: str, *, count: Callable[[int], None] | None = None
               ) -> tuple[IO[bytes], bytes]:
    """Open ``path`` (``-``: standard input), gunzipped when it starts with gzip's magic bytes.

    Returns the binary stream and its first bytes (for :func:`detect_form`); ``count`` is called
    with the number of bytes of each read from the file itself (before gunzipping). Raises
    :class:`DumpError` when the file cannot be opened.
    """
    try:
        raw: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as err:
        raise DumpError(f"cannot read {path}: {err.strerror or err}") from None
    if count is not None:  # a small buffer: only the head is read through it (_Prefixed)
        raw = io.BufferedReader(_Counting(raw, count), HEAD_SIZE)
    return open_stream(raw)


def open_stream(raw: IO[bytes]) -> tuple[IO[bytes], bytes]:
    """:func:`open_input` for an open binary stream (an engine's file, a socket): gunzipped
    when it starts with gzip's magic bytes, a UTF-8 byte order mark skipped."""
    head, stream = _peek(raw, HEAD_SIZE)
    if head.startswith(GZIP_MAGIC):
        head, stream = _peek(Gunzip(stream), HEAD_SIZE)  # type: ignore[arg-type]
    for bom in _BOMS:
        if head.startswith(bom):
            stream.read(len(bom))
            head = head[len(bom):]
    return stream, head


class InputForm(Protocol):
    """One form of input: how it is recognised and read into records.

    ``raw_records`` frames the input without necessarily decoding it (for ``--jobs``); each raw
    record is later turned into records by :func:`decode_raw` (in a worker process).
    """

    name: str

    def detect(self, head: bytes) -> bool:
        """True when the first bytes (after gzip) look like this form."""
        ...

    def raw_records(self, stream: IO[bytes], *, keep_text: bool, max_record: int = MAX_RECORD
                    ) -> Iterator[RawRecord]:
        """The input framed into raw records, in order; a record longer than ``max_record``
        bytes comes as a :class:`Broken` record (``record too large``), never held whole."""
        ...


def _first_char(head: bytes) -> bytes:
    stripped = head.lstrip(b" \t\r\n")
    return stripped[:1]


class JsonLinesForm:
    """``jsonl``: one JSON value a line; a broken line is reported and skipped."""

    name = "jsonl"

    def detect(self, head: bytes) -> bool:
        """JSONL when the first line is a whole JSON object (or the next line starts one), or a
        whole command array (gtag.js ``arguments`` as ``["event", name, params]``)."""
        first = _first_char(head)
        if first == b"[":
            line, whole = _first_line(head)
            value = _loads(line) if whole else UNDECODED
            return type(value) is list and bool(value) and type(value[0]) is str
        if first != b"{":
            return False
        rows = head.lstrip(b" \t\r\n").split(b"\n")
        if len(rows) < 2:
            return False  # one long line: read as JSON text, which gives the same records
        try:
            return type(json.loads(rows[0])) is dict
        except (ValueError, RecursionError):
            # A broken first line: still JSONL when a later line starts an object at column 0.
            return any(row.startswith(b"{") for row in rows[1:-1])

    def raw_records(self, stream: IO[bytes], *, keep_text: bool, max_record: int = MAX_RECORD
                    ) -> Iterator[RawRecord]:
        """Each non-blank line, undecoded."""
        readline = stream.readline
        number = 0
        try:
            while True:  # not lines(): this loop runs once a line, and a layer less is faster
                line = readline(max_record)
                if not line:
                    return
                number += 1
                if len(line) >= max_record and line[-1:] != b"\n":
                    size, error = _read_past(readline, len(line))
                    yield number, None, None, too_large(number, size, line, max_record)
                    if error is not None:
                        raise error
                elif line.strip():
                    yield number, None, line, UNDECODED
        except READ_ERRORS as err:
            yield number + 1, None, None, unreadable(err, f"line {number + 1}")


class JsonForm:
    """``json``: a JSON list of pushes, a page object, or several such values in a row."""

    name = "json"

    def detect(self, head: bytes) -> bool:
        """JSON text starts with ``[`` or ``{`` (an empty input reads as no pushes)."""
        return _first_char(head) in (b"[", b"{", b"")

    def raw_records(self, stream: IO[bytes], *, keep_text: bool, max_record: int = MAX_RECORD
                    ) -> Iterator[RawRecord]:
        """Decoded records; with ``keep_text`` each push of a list also carries its JSON text."""
        scanner = Scanner(stream, max_record)
        try:
            yield from json_values(scanner, keep_text)
        except BrokenJson as err:
            message = f"{err.message}; everything before it was read, nothing after it"
            yield err.line, err.index, None, Broken(message, err.text, err.reason)




def _read_past(readline: Any, size: int) -> tuple[int, BaseException | None]:
    """Read on to the end of a line too long to hold: its whole size, and the read error that
    stopped it (None at its end)."""
    try:
        while True:
            more = readline(CHUNK)
            size += len(more)
            if not more or more.endswith(b"\n"):
                return size, None
    except READ_ERRORS as err:
        return size, err


def lines(stream: IO[bytes], max_record: int = MAX_RECORD
          ) -> Iterator[tuple[int, bytes | Broken]]:
    """``(number, line)`` of every line; a line longer than ``max_record`` bytes is read to its
    end without being held and comes as a :class:`Broken` record, and a read error ends the
    lines with an ``unreadable input`` one."""
    number = 0
    readline = stream.readline
    try:
        while True:
            line = readline(max_record)
            if not line:
                return
            number += 1
            if len(line) >= max_record and not line.endswith(b"\n"):
                size, error = _read_past(readline, len(line))
                yield number, too_large(number, size, line, max_record)
                if error is not None:
                    raise error
                continue
            yield number, line
    except READ_ERRORS as err:
        yield number + 1, unreadable(err, f"line {number + 1}")


def _first_line(head: bytes) -> tuple[bytes, bool]:
    """The first non-blank line of the head, and whether it is whole (a newline ends it)."""
    stripped = head.lstrip(b" \t\r\n")
    cut = stripped.find(b"\n")
    if cut < 0:
        return stripped, False
    return stripped[:cut].rstrip(b"\r"), True


def _loads(text: bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return UNDECODED


def split_mp_line(text: str) -> tuple[Any, str]:
    """``(receive time or None, hits)`` of one line of a Measurement Protocol log.

    ``TIME<TAB>HIT`` and ``{"timestamp": TIME, "hit": HIT}`` carry the time the hit was received;
    a bare hit carries none. Raises ValueError for a JSON line without a ``hit`` text.
    """
    if text.startswith("{"):
        value = json.loads(text)
        if type(value) is not dict or not isinstance(value.get("hit"), str):
            raise ValueError('expected {"timestamp": ..., "hit": "v=1&t=..."}')
        return value.get("timestamp"), value["hit"]
    time, tab, rest = text.partition("\t")
    if tab:
        return time.strip(), rest
    return None, text


class _LineForm:
    """A form read one line a record, each line a :class:`Source` expanded by the converter."""

    name = ""

    def raw_records(self, stream: IO[bytes], *, keep_text: bool, max_record: int = MAX_RECORD
                    ) -> Iterator[RawRecord]:
        """Each non-blank line as a :class:`Source` record."""
        name = self.name
        for number, line in lines(stream, max_record):
            if isinstance(line, Broken):
                yield number, None, None, line
            elif line.strip():
                yield number, None, None, Source(name, line)


class MeasurementProtocolForm(_LineForm):
    """``mp``: Measurement Protocol v1 hits, one a line (see :func:`split_mp_line`)."""

    name = "mp"

    def detect(self, head: bytes) -> bool:
        """The first line is a hit (a query string with ``t`` and ``v``/``tid``, or ``pa``...)."""
        line, _ = _first_line(head)
        try:
            text = line.decode("utf-8")
            _, hits = split_mp_line(text)
        except ValueError:
            return False
        return is_mp_hit(hits.split("\n", 1)[0])


class BigQueryForm(_LineForm):
    """``bq``: GA360 BigQuery export rows, one session a line (``ga_sessions_*`` as NDJSON)."""

    name = "bq"

    def detect(self, head: bytes) -> bool:
        """The first line is an object with a ``hits`` list and visit columns."""
        line, whole = _first_line(head)
        if not line.startswith(b"{"):
            return False
        value = _loads(line)
        if value is not UNDECODED:
            return type(value) is dict and type(value.get("hits")) is list and (
                "visitStartTime" in value or "fullVisitorId" in value or "visitId" in value
            )
        # A row longer than the head: its first bytes name the export's columns.
        return not whole and b'"hits"' in line and (
            b'"visitStartTime"' in line or b'"fullVisitorId"' in line
        )


_AJS_LIST = re.compile(rb"\[\s*\[\s*\"")
_AJS_PAGE = re.compile(rb'"commands"\s*:\s*\[')


class AnalyticsJsForm:
    """``analyticsjs``: ``ga()`` command lists: a JSON list of commands, JSONL of commands, or
    page objects ``{"commands": [...], ...}`` (whole file or one a line).

    A page is a page object, or a run of commands up to the next ``create`` after a ``create``
    (analytics.js loading again is a new page view).
    """

    name = "analyticsjs"

    def detect(self, head: bytes) -> bool:
        """Commands as JSON arrays starting with a command name other than gtag.js's, or page
        objects holding ``commands``."""
        stripped = head.lstrip(b" \t\r\n")
        if _AJS_LIST.match(stripped):
            value = _loads(_first_line(head)[0])
            first = value[0] if type(value) is list and value else None
            if type(first) is list and first and type(first[0]) is str:
                return self._looks_like_ga(first[0], head)
            return b"ec:" in head
        if stripped.startswith(b"["):
            value = _loads(_first_line(head)[0])
            if type(value) is list and value and type(value[0]) is str:
                return self._looks_like_ga(value[0], head)
            return False
        if stripped.startswith(b"{"):
            value = _loads(_first_line(head)[0])
            if value is not UNDECODED:
                return type(value) is dict and type(value.get("commands")) is list
            return bool(_AJS_PAGE.search(stripped[:4096]))
        return False

    @staticmethod
    def _looks_like_ga(name: str, head: bytes) -> bool:
        if name in GTAG_COMMANDS and name != "set":
            return False  # gtag.js arguments written as arrays: a dataLayer
        return b'"ec:' in head or b'.ec:' in head or b'"send"' in head or b'"create"' in head

    def raw_records(self, stream: IO[bytes], *, keep_text: bool, max_record: int = MAX_RECORD
                    ) -> Iterator[RawRecord]:
        """One :class:`Source` record a page, holding its metadata and commands."""
        peek = getattr(stream, "peek", None)
        head = peek(HEAD_SIZE) if peek is not None else b""
        stripped = head.lstrip(b" \t\r\n")
        records: Iterator[RawRecord]
        if _AJS_LIST.match(stripped) or (
            stripped.startswith(b"{") and not JsonLinesForm().detect(head)
        ):
            records = JsonForm().raw_records(stream, keep_text=False, max_record=max_record)
        else:
            records = JsonLinesForm().raw_records(stream, keep_text=False,
                                                  max_record=max_record)
        yield from _command_pages(records)


def _command_pages(records: Iterator[RawRecord]) -> Iterator[RawRecord]:
    meta: dict[str, Any] = {}
    commands: list[tuple[int, int | None, Any]] = []
    created = False

    def page() -> Iterator[RawRecord]:
        if commands:
            yield commands[0][0], None, None, Source("analyticsjs", (dict(meta), commands[:]))
        commands.clear()

    for line, index, raw, value in records:
        if value is UNDECODED:
            value = decode_record(line, raw)
        if type(value) is Broken or value is PAGE_END:
            yield from page()
            created = False
            if value is not PAGE_END:
                yield line, index, None, value
            continue
        if type(value) is dict and type(value.get("commands")) is list:
            yield from page()
            created = False
            own = {key: item for key, item in value.items() if key != "commands"}
            yield line, index, None, Source(
                "analyticsjs", (own, [(line, i, command) for i, command in
                                      enumerate(value["commands"])])
            )
            continue
        if type(value) is list and value and type(value[0]) is str and (
            value[0].rpartition(".")[2] == "create"
        ):
            if created:
                yield from page()
            created = True
        commands.append((line, index, value))
    yield from page()


#: Input forms in detection order; the first whose ``detect`` accepts the head reads the input.
FORMS: list[InputForm] = [
    MeasurementProtocolForm(), BigQueryForm(), AnalyticsJsForm(), JsonLinesForm(), JsonForm(),
]
#: The forms of dataLayer dumps (pushes in UA, GA4 or gtag.js form).
DATALAYER_FORMS = ("jsonl", "json")


def detect_form(head: bytes, *, path: str = "", source: str = "auto") -> InputForm:
    """The form of an input from its first bytes; :class:`DumpError` when none matches.

    ``source`` naming a file form (``mp``, ``bq``, ``analyticsjs``) picks that form whatever the
    content; a push form (``ua``, ``ga4``, ``gtag``) allows only the dataLayer forms.
    """
    for form in FORMS:
        if form.name == source:
            return form
    for form in FORMS:
        if (source == "auto" or form.name in DATALAYER_FORMS) and form.detect(head):
            return form
    what = looks_like(head)
    start = shown_start(head)
    raise DumpError(
        f"{path or 'input'}: not a dump: it looks like {what}"
        + (f" (it starts with {start!r})" if start else "")
        + "; expected a JSON list, JSON lines or a JSON object (a dataLayer dump, optionally "
        "gzip-compressed), analytics.js commands, Measurement Protocol hits or BigQuery export "
        "rows (--source forces a form)"
    )


def read_dump(path: str) -> Iterator[Record]:
    """Every record of the dump at ``path`` (``-``: standard input), streamed, in order.

    Raises :class:`DumpError` when the input cannot be opened or is no dump at all; what cannot
    be decoded inside it comes as :class:`Broken` records.
    """
    stream, head = open_input(path)
    with stream:
        form = detect_form(head, path=input_name(path))
        for raw in form.raw_records(stream, keep_text=False):
            yield from decode_raw(raw)
