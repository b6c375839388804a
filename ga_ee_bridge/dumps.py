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
converter expands (:mod:`ga_ee_bridge.sources`), in a worker process with ``--jobs``:

- ``mp``: Measurement Protocol hits, one a line (``/collect`` payloads, ``/batch`` bodies), bare or
  as ``TIME<TAB>HIT`` or ``{"timestamp": TIME, "hit": HIT}`` (a batch body: hits one a line);
- ``bq``: GA360 BigQuery export rows (``ga_sessions_*``), one session a line (NDJSON);
- ``analyticsjs``: analytics.js command lists: a JSON list of ``["ec:addProduct", {...}]``
  arrays, JSONL of such arrays, or page objects ``{"commands": [...], "timestamp": ...}``.

Forms are pluggable: :data:`FORMS` lists them in detection order.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from ga_ee_bridge.readers.gtag import COMMANDS as GTAG_COMMANDS
from ga_ee_bridge.readers.mp import is_mp_hit

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
    "read_dump",
]

#: ``(line, index, value)``: one push or marker, where it starts, its index in its list.
Record = tuple[int, int | None, Any]
#: ``(line, index, raw, value)``: a record before decoding; ``value`` is :data:`UNDECODED` when
#: only ``raw`` (the JSON text of the record) is known.
RawRecord = tuple[int, int | None, Any, Any]

_CHUNK = 1 << 20
#: Longest record (in characters) read before a parse error is believed to be real.
MAX_RECORD = 1 << 26
#: Pushes of a page object held until its metadata is complete (see :func:`_object`).
HOLD_PUSHES = 10_000
#: How many bytes the form detection looks at.
HEAD_SIZE = 1 << 16
_WS = re.compile(r"[ \t\n\r]*")
_raw_decode = json.JSONDecoder().raw_decode
_BOMS = (b"\xef\xbb\xbf",)
GZIP_MAGIC = b"\x1f\x8b"


#: What reading a damaged input raises (a truncated or corrupt gzip stream, an I/O error).
READ_ERRORS = (OSError, EOFError)


def unreadable(err: BaseException, where: str) -> Broken:
    """The :class:`Broken` record for an input that cannot be read on from ``where``."""
    return Broken(f"the input cannot be read on from {where}: {err}; everything before it was "
                  "read", "", "unreadable input")


class DumpError(Exception):
    """An input that cannot be read at all (missing file, not a dump); the message says why."""


@dataclass(frozen=True, slots=True)
class Broken:
    """Text that is not JSON: ``message`` says what and where; ``text`` is what was read.

    ``reason`` is the reject reason it becomes.
    """

    message: str
    text: str
    reason: str = "broken JSON"


@dataclass(frozen=True, slots=True)
class PageStart:
    """A page object begins: ``meta`` holds its keys but ``dataLayer`` (customer_ids, url...).

    ``prefix`` is the JSON path of its ``dataLayer`` from the record's root (``"dataLayer"`` or
    ``"[5].dataLayer"`` for the sixth item of a list), for error paths.
    """

    meta: dict[str, Any] = field(default_factory=dict)
    prefix: str = "dataLayer"


@dataclass(frozen=True, slots=True)
class Source:
    """A record of a file-level form (``form``: ``mp``, ``bq``, ``analyticsjs``), not decoded yet.

    ``data`` is what the form framed: a line's bytes (``mp``, ``bq``) or ``(meta, commands)``
    (``analyticsjs``: the page's metadata and its ``(line, index, command)`` triples). The converter
    expands it into pages (see :mod:`ga_ee_bridge.sources`); each is a page of its own.
    """

    form: str
    data: Any


class _PageEnd:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PAGE_END"

    def __reduce__(self) -> str:
        return "PAGE_END"


#: The end of a page object's pushes.
PAGE_END = _PageEnd()


class _Undecoded:
    __slots__ = ()

    def __reduce__(self) -> str:
        return "UNDECODED"


UNDECODED = _Undecoded()


def is_gtm_js(value: Any) -> bool:
    """True for GTM's own ``{"gtm.start": ..., "event": "gtm.js"}`` push, which opens a page."""
    return type(value) is dict and value.get("event") == "gtm.js"


def is_page_object(value: Any) -> bool:
    """True for ``{"dataLayer": [...], ...}``: a page with its pushes and metadata."""
    return type(value) is dict and type(value.get("dataLayer")) is list


def input_name(path: str) -> str:
    """How an input is named in reports: its path as given, ``<stdin>`` for ``-``."""
    return "<stdin>" if path == "-" else path


# -- opening and detecting ---------------------------------------------------------------------


class _Prefixed(io.RawIOBase):
    """A raw stream that replays ``head`` before reading on from ``rest`` (peeking for pipes)."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._rest is not sys.stdin.buffer:
            self._rest.close()
        super().close()


class _Steady(io.RawIOBase):
    """Reads its source in fixed pieces, whoever asks and for how much.

    A damaged gzip stream then breaks at the same byte for every reader, which keeps the output
    the same whatever ``--jobs`` is.
    """

    PIECE = 1 << 16

    def __init__(self, source: IO[bytes]):
        self._source = source
        self._data = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._data:
            piece = self._source.read(self.PIECE)  # may raise: then again on the next call
            if not piece:
                return 0
            self._data = memoryview(piece)
        size = min(len(buffer), len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size

    def close(self) -> None:
        self._source.close()
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
    return head, io.BufferedReader(_Prefixed(head, stream), _CHUNK)


def open_input(path: str) -> tuple[IO[bytes], bytes]:
    """Open ``path`` (``-``: standard input), gunzipped when it starts with gzip's magic bytes.

    Returns the binary stream and its first bytes (for :func:`detect_form`); raises
    :class:`DumpError` when the file cannot be opened.
    """
    try:
        raw: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as err:
        raise DumpError(f"cannot read {path}: {err.strerror or err}") from None
    head, stream = _peek(raw, HEAD_SIZE)
    if head.startswith(GZIP_MAGIC):
        unzipped = _Steady(gzip.GzipFile(fileobj=stream, mode="rb"))  # type: ignore[arg-type]
        head, stream = _peek(unzipped, HEAD_SIZE)  # type: ignore[arg-type]
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

    def raw_records(self, stream: IO[bytes], *, keep_text: bool) -> Iterator[RawRecord]:
        """The input framed into raw records, in order."""
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
        lines = head.lstrip(b" \t\r\n").split(b"\n")
        if len(lines) < 2:
            return False  # one long line: read as JSON text, which gives the same records
        try:
            return type(json.loads(lines[0])) is dict
        except ValueError:
            # A broken first line: still JSONL when a later line starts an object at column 0.
            return any(line.startswith(b"{") for line in lines[1:-1])

    def raw_records(self, stream: IO[bytes], *, keep_text: bool) -> Iterator[RawRecord]:
        """Each non-blank line, undecoded."""
        number = 0
        try:
            for number, line in enumerate(stream, 1):
                if line.strip():
                    yield number, None, line, UNDECODED
        except READ_ERRORS as err:
            yield number + 1, None, None, unreadable(err, f"line {number + 1}")


class JsonForm:
    """``json``: a JSON list of pushes, a page object, or several such values in a row."""

    name = "json"

    def detect(self, head: bytes) -> bool:
        """JSON text starts with ``[`` or ``{`` (an empty input reads as no pushes)."""
        return _first_char(head) in (b"[", b"{", b"")

    def raw_records(self, stream: IO[bytes], *, keep_text: bool) -> Iterator[RawRecord]:
        """Decoded records; with ``keep_text`` each push of a list also carries its JSON text."""
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="strict")
        scanner = _Scanner(text)
        try:
            yield from _json_values(scanner, keep_text)
        except _BrokenJson as err:
            message = f"{err.message}; everything before it was read, nothing after it"
            yield err.line, err.index, None, Broken(message, err.text)




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
    except ValueError:
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

    def raw_records(self, stream: IO[bytes], *, keep_text: bool) -> Iterator[RawRecord]:
        """Each non-blank line as a :class:`Source` record."""
        number = 0
        name = self.name
        try:
            for number, line in enumerate(stream, 1):
                if line.strip():
                    yield number, None, None, Source(name, line)
        except READ_ERRORS as err:
            yield number + 1, None, None, unreadable(err, f"line {number + 1}")


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

    def raw_records(self, stream: IO[bytes], *, keep_text: bool) -> Iterator[RawRecord]:
        """One :class:`Source` record a page, holding its metadata and commands."""
        peek = getattr(stream, "peek", None)
        head = peek(HEAD_SIZE) if peek is not None else b""
        stripped = head.lstrip(b" \t\r\n")
        records: Iterator[RawRecord]
        if _AJS_LIST.match(stripped) or (
            stripped.startswith(b"{") and not JsonLinesForm().detect(head)
        ):
            records = JsonForm().raw_records(stream, keep_text=False)
        else:
            records = JsonLinesForm().raw_records(stream, keep_text=False)
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
            try:
                value = json.loads(raw)
            except ValueError as err:
                yield from page()
                created = False
                yield line, index, None, broken_line(line, raw, err)
                continue
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
    shown = head[:40].decode("utf-8", "replace")
    raise DumpError(
        f"{path or 'input'}: not a dataLayer dump (expected a JSON list, JSON lines or a JSON "
        "object, optionally gzip-compressed) nor analytics.js commands, Measurement Protocol "
        f"hits or BigQuery export rows (--source forces a form); it starts with {shown!r}"
    )


# -- the streaming JSON scanner ----------------------------------------------------------------


class _BrokenJson(Exception):
    def __init__(self, message: str, line: int, index: int | None, text: str):
        super().__init__(message)
        self.message, self.line, self.index, self.text = message, line, index, text


class _Scanner:
    """``raw_decode`` over a buffer refilled from a text stream; tracks lines and offsets."""

    __slots__ = ("_counted", "_last_nl", "_line", "_read", "base", "buf", "eof", "pos")

    def __init__(self, text: IO[str]):
        self._read = text.read
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.base = 0  # absolute offset of buf[0]
        self._line = 1  # line number at buf[_counted]
        self._counted = 0
        self._last_nl = -1  # absolute offset of the last newline counted

    def fill(self) -> bool:
        """Read more text, keeping ``buf[pos:]``; False at the end of the input."""
        if self.eof:
            return False
        self.line_at(self.pos)
        try:
            chunk = self._read(max(_CHUNK, len(self.buf) - self.pos))
        except UnicodeDecodeError as err:
            raise self.broken(f"not UTF-8 text ({err.reason})", None, self.pos) from None
        except READ_ERRORS as err:
            raise self.broken(f"the input cannot be read on: {err}", None, self.pos) from None
        self.base += self.pos
        self.buf = self.buf[self.pos:] + chunk
        self._counted -= self.pos
        self.pos = 0
        if not chunk:
            self.eof = True
            return False
        return True

    def line_at(self, i: int) -> int:
        """The line number of ``buf[i]`` (``i`` never moves backwards)."""
        buf = self.buf
        found = buf.count("\n", self._counted, i)
        if found:
            self._line += found
            self._last_nl = self.base + buf.rfind("\n", self._counted, i)
        self._counted = i
        return self._line

    def where(self, i: int) -> str:
        line = self.line_at(i)
        return f"line {line}, column {self.base + i - self._last_nl}"

    def broken(self, message: str, index: int | None, i: int) -> _BrokenJson:
        where = self.where(i)
        return _BrokenJson(f"{message} at {where}", self._line, index, self.buf[self.pos:][:4096])

    def peek(self) -> str:
        """The next non-blank character, or "" at the end of the input."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def value(self, index: int | None, what: str) -> Any:
        """Decode the JSON value at ``pos``; raises :class:`_BrokenJson` saying where."""
        while True:
            try:
                value, end = _raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as err:
                near_end = len(self.buf) - err.pos <= 16 or err.msg.startswith("Unterminated")
                if near_end and not self.eof and len(self.buf) - self.pos < MAX_RECORD:
                    self.fill()
                    continue
                if self.eof and near_end:
                    raise self.broken(
                        f"the input ends inside {what} (truncated JSON?)", index, self.pos
                    ) from None
                raise self.broken(
                    f"broken JSON in {what}: {err.msg} ({self.where(err.pos)})", index, self.pos
                ) from None
            if end >= len(self.buf) and not self.eof and self.fill():
                continue
            self.pos = end
            return value


def _json_values(sc: _Scanner, keep_text: bool) -> Iterator[RawRecord]:
    """Every top-level value: lists stream their pushes, objects are pages or single pushes."""
    count = 0
    while True:
        char = sc.peek()
        if char == "":
            return
        line = sc.line_at(sc.pos)
        if char == "[":
            sc.pos += 1
            yield from _list_items(sc, keep_text, count)
        elif char == "{":
            yield from _object(sc, line)
        else:
            raise sc.broken(
                f"expected a JSON list or object, found {sc.buf[sc.pos:sc.pos + 20]!r}",
                None, sc.pos,
            )
        count += 1


def _list_items(sc: _Scanner, keep_text: bool, count: int) -> Iterator[RawRecord]:
    # A second list in the same file is another dump: a new page.
    if count:
        yield sc.line_at(sc.pos), None, None, PAGE_END
    index = 0
    char = sc.peek()
    if char == "]":
        sc.pos += 1
        return
    decode = _raw_decode
    while True:
        if char == "":
            raise sc.broken(f"the input ends before push [{index}] (truncated JSON?)", index,
                            sc.pos)
        # Fast path: a value well inside the buffer, directly followed by ',' or ']'.
        buf = sc.buf
        start = sc.pos
        try:
            value, end = decode(buf, start)
            after = buf[end] if end + 1 < len(buf) else ""
        except json.JSONDecodeError:
            after = ""
        if after == ",":
            line = sc.line_at(start)
            sc.pos = end + 1
            yield line, index, (buf[start:end] if keep_text else None), value
            index += 1
            char = sc.peek()
            continue
        # Slow path: refills, whitespace, the end of the list, errors.
        line = sc.line_at(start)
        origin = sc.base + start  # refills move the buffer: keep the absolute offset
        value = sc.value(index, f"push [{index}]")
        yield line, index, (sc.buf[origin - sc.base:sc.pos] if keep_text else None), value
        index += 1
        char = sc.peek()
        if char == ",":
            sc.pos += 1
            char = sc.peek()
        elif char == "]":
            sc.pos += 1
            return
        elif char == "":
            raise sc.broken(f"the input ends after push [{index - 1}] (truncated JSON?)",
                            index, sc.pos)
        else:
            raise sc.broken(f"expected ',' or ']' after push [{index - 1}]", index, sc.pos)


def _object(sc: _Scanner, line: int) -> Iterator[RawRecord]:
    """A top-level object, streamed: its ``dataLayer`` push by push, the other keys as metadata.

    Metadata written after ``dataLayer`` still applies to the page: its pushes are held until the
    object ends, up to :data:`HOLD_PUSHES`; past that they stream on, and a metadata key that
    comes later is reported as a :class:`Broken` record rather than silently ignored.
    """
    sc.pos += 1
    meta: dict[str, Any] = {}
    held: list[RawRecord] = []
    has_list = started = False
    char = sc.peek()
    while char != "}":
        if char != '"':
            if char == "":
                raise sc.broken("the input ends inside the page object (truncated JSON?)",
                                None, sc.pos)
            raise sc.broken("expected a key in the page object", None, sc.pos)
        key = sc.value(None, "a key of the page object")
        if sc.peek() != ":":
            raise sc.broken(f"expected ':' after key {key!r}", None, sc.pos)
        sc.pos += 1
        if key == "dataLayer" and not has_list and sc.peek() == "[":
            has_list = True
            sc.pos += 1
            for record in _list_items(sc, False, 0):
                if started:
                    yield record
                    continue
                held.append(record)
                if len(held) >= HOLD_PUSHES:
                    started = True
                    yield line, None, None, PageStart(meta, "dataLayer")
                    yield from held
                    held = []
        else:
            sc.peek()
            key_line = sc.line_at(sc.pos)
            value = sc.value(None, f"the page object's {key!r}")
            if started:
                message = (
                    f"page metadata {key!r} comes after a dataLayer of more than {HOLD_PUSHES} "
                    "pushes and was not applied; write the metadata keys before 'dataLayer'"
                )
                yield key_line, None, None, Broken(message, json.dumps({key: value}),
                                                   "bad page metadata")
            else:
                meta[key] = value
        char = sc.peek()
        if char == ",":
            sc.pos += 1
            char = sc.peek()
        elif char != "}":
            if char == "":
                raise sc.broken("the input ends inside the page object (truncated JSON?)",
                                None, sc.pos)
            raise sc.broken("expected ',' or '}' in the page object", None, sc.pos)
    sc.pos += 1
    if not has_list:
        yield line, None, None, meta  # a plain push written as a top-level object
        return
    if not started:
        yield line, None, None, PageStart(meta, "dataLayer")
        yield from held
    yield sc.line_at(sc.pos), None, None, PAGE_END


def jsonl_blocks(stream: IO[bytes], size: int | None = None) -> Iterator[tuple[int, bytes]]:
    """Whole lines in blocks of about ``size`` bytes: ``(number of the first line, bytes)``.

    Reads with ``read1`` so that nothing read is lost when the input breaks: the whole lines
    before the break come out, then the read error is raised.
    """
    size = size or _CHUNK
    read1 = stream.read1  # type: ignore[attr-defined]
    number = 1
    pending: list[bytes] = []
    pending_size = 0
    while True:
        try:
            data = read1(size)
        except READ_ERRORS:
            whole = b"".join(pending)
            cut = whole.rfind(b"\n") + 1
            if cut:
                yield number, whole[:cut]
            raise
        if not data:
            if pending:
                yield number, b"".join(pending)
            return
        pending.append(data)
        pending_size += len(data)
        if pending_size < size:
            continue
        whole = b"".join(pending)
        cut = whole.rfind(b"\n") + 1
        if not cut:  # a line longer than a block: read on
            pending = [whole]
            continue
        block = whole[:cut]
        yield number, block
        number += block.count(b"\n")
        pending = [whole[cut:]] if cut < len(whole) else []
        pending_size = len(whole) - cut


def decode_raw(record: RawRecord) -> Iterator[Record]:
    """Records from one raw record: decoded, a page object expanded into its marked pushes."""
    line, index, raw, value = record
    if value is UNDECODED:
        try:
            value = json.loads(raw)
        except ValueError as err:
            yield line, index, broken_line(line, raw, err)
            return
    if is_page_object(value):
        yield line, None, PageStart(
            {key: item for key, item in value.items() if key != "dataLayer"},
            "dataLayer" if index is None else f"[{index}].dataLayer",
        )
        for position, push in enumerate(value["dataLayer"]):
            yield line, position, push
        yield line, None, PAGE_END
    else:
        yield line, index, value


def broken_line(line: int, raw: bytes | str, err: ValueError) -> Broken:
    """The :class:`Broken` record of a JSON line that does not decode."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if isinstance(err, json.JSONDecodeError):
        message = f"broken JSON on line {line}: {err.msg} at column {err.pos + 1}"
    else:
        message = f"broken JSON on line {line}: {err}"
    return Broken(message, text.rstrip("\r\n"))


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
