"""Streaming JSON: values, list items and page objects read from a buffered text stream.

``json.JSONDecoder.raw_decode`` over chunks refilled as needed (measured faster than ijson's C
backend for dumps), tracking lines so that a break is reported where it is; and
:func:`jsonl_blocks`, whole JSON lines in blocks that survive a read error.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Generator, Iterator
from typing import IO, Any

from ga_ee_bridge.convert.reasons import MAX_DEPTH, RejectReason, fault_of
from ga_ee_bridge.convert.records import (
    PAGE_END,
    READ_ERRORS,
    TEXT_LIMIT,
    Broken,
    PageStart,
    RawRecord,
    too_deep,
    too_large,
)

__all__ = [
    "CHUNK",
    "HOLD_PUSHES",
    "MAX_RECORD",
    "BrokenJson",
    "Scanner",
    "json_values",
    "jsonl_blocks",
]

#: How much JSON text is read at a time (more for a value longer than that). One process hands
#: its results over after each read, so this also bounds the results it holds (with pushes of
#: 100 products, 1 MiB of text gives some 3 MiB of commands).
CHUNK = 1 << 18
#: Longest record (in characters) read before a parse error is believed to be real.
MAX_RECORD = 1 << 26  # 64 MiB
#: Pushes of a page object held until its metadata is complete (see :func:`_object`).
HOLD_PUSHES = 10_000
_WS = re.compile(r"[ \t\n\r]*")
_raw_decode = json.JSONDecoder().raw_decode




class BrokenJson(Exception):
    """Internal: JSON text that cannot be read on (``reason``: what it becomes)."""

    def __init__(self, message: str, line: int, index: int | None, text: str,
                 reason: str = RejectReason.BROKEN_JSON):
        super().__init__(message)
        self.message, self.line, self.index, self.text = message, line, index, text
        self.reason = reason


#: Outside strings: runs of characters that are no bracket, and whole strings (possessive: no
#: backtracking), so that skipping a value costs one step per bracket.
_PLAIN = re.compile(r'(?:[^"{}\[\]]++|"(?:[^"\\]++|\\.)*+")*+')
#: Inside a string: up to its closing quote (or the end of the buffer).
_IN_STRING = re.compile(r'(?:[^"\\]++|\\.)*+')
#: A number or a literal (``true``...).
_SCALAR = re.compile(r'[^\s,\]}]*')


class Scanner:
    """``raw_decode`` over a buffer refilled from a binary stream (decoded as UTF-8 here, so that
    the text before a bad byte or a read error is kept); tracks lines and offsets.

    A value longer than ``max_record`` characters, nested deeper than
    :data:`~ga_ee_bridge.convert.reasons.MAX_DEPTH` or holding a number Python does not read is
    skipped (in bounded memory) and comes back from :meth:`value` as a :class:`Broken` record.
    """

    __slots__ = ("_counted", "_error", "_last_nl", "_line", "_pending", "_read", "base", "buf",
                 "eof", "max_record", "pos")

    def __init__(self, stream: IO[bytes], max_record: int = MAX_RECORD):
        self._read = getattr(stream, "read1", stream.read)
        self.max_record = max_record
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.base = 0  # absolute offset of buf[0]
        self._line = 1  # line number at buf[_counted]
        self._counted = 0
        self._last_nl = -1  # absolute offset of the last newline counted
        self._pending = b""  # the start of a character cut by the end of a read
        self._error: BrokenJson | None = None  # met while reading; raised once its text is used

    def _text(self, want: int) -> str:
        """About ``want`` more characters (fewer at the end, or before a damage kept for later)."""
        pieces = []
        got = 0
        while got < want and self._error is None:
            try:
                data = self._read(want - got)
            except READ_ERRORS as err:
                self._error = BrokenJson(f"the input cannot be read on: {err}", 0, None, "",
                                         RejectReason.UNREADABLE_INPUT)
                break
            final = not data
            data = self._pending + data if self._pending else data
            try:
                text, used = codecs.utf_8_decode(data, "strict", final)
            except UnicodeDecodeError as err:
                text = data[:err.start].decode("utf-8")
                used = len(data)
                self._error = BrokenJson(f"not UTF-8 text ({err.reason})", 0, None, "",
                                         RejectReason.NOT_UTF8)
            self._pending = data[used:]
            pieces.append(text)
            got += len(text)
            if final:
                break
        return "".join(pieces)

    def fill(self) -> bool:
        """Read more text, keeping ``buf[pos:]``; False at the end of the input."""
        if self.eof:
            return False
        self.line_at(self.pos)
        chunk = self._text(max(CHUNK, len(self.buf) - self.pos))
        self.base += self.pos
        self.buf = self.buf[self.pos:] + chunk
        self._counted -= self.pos
        self.pos = 0
        if not chunk:
            error = self._error
            if error is not None:
                raise self.broken(error.message, None, len(self.buf), error.reason)
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

    def broken(self, message: str, index: int | None, i: int,
               reason: str = RejectReason.BROKEN_JSON) -> BrokenJson:
        where = self.where(i)
        return BrokenJson(f"{message} at {where}", self._line, index,
                          self.buf[self.pos:][:TEXT_LIMIT], reason)

    def peek(self) -> str:
        """The next non-blank character, or "" at the end of the input."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def value(self, index: int | None, what: str) -> Any:
        """Decode the JSON value at ``pos``; raises :class:`BrokenJson` saying where.

        A value that cannot be held or decoded (too large, too deep, a number of too many
        digits) is skipped and returned as a :class:`Broken` record saying so.
        """
        while True:
            try:
                value, end = _raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as err:
                near_end = len(self.buf) - err.pos <= 16 or err.msg.startswith("Unterminated")
                if near_end and not self.eof:
                    if len(self.buf) - self.pos < self.max_record:
                        self.fill()
                        continue
                    return self._skip(what, RejectReason.TOO_LARGE, (
                        f"longer than {self.max_record:,} characters (the most a record may "
                        "have: --max-record-size)"))
                if self.eof and near_end:
                    raise self.broken(
                        f"the input ends inside {what} (truncated JSON?)", index, self.pos
                    ) from None
                raise self.broken(
                    f"broken JSON in {what}: {err.msg} ({self.where(err.pos)})", index, self.pos
                ) from None
            except (ValueError, RecursionError) as err:  # too deep, too many digits
                reason, cause = fault_of(err)
                return self._skip(what, reason, cause)
            if end >= len(self.buf) and not self.eof and self.fill():
                continue
            if _deep_span(self.buf, self.pos, end) and too_deep(value):
                return self._skip(what, RejectReason.TOO_DEEP,
                                  f"too deeply nested (more than {MAX_DEPTH} levels)")
            self.pos = end
            return value

    def _skip(self, what: str, reason: str, cause: str) -> Broken:
        """Skip the value at ``pos`` without decoding it (bounded memory): the record saying why."""
        where = self.where(self.pos)
        text = self.buf[self.pos:self.pos + TEXT_LIMIT]
        size = self.skip_value(what)
        return Broken(f"{what} at {where}: {cause}; skipped ({size:,} characters)", text, reason)

    def skip_value(self, what: str) -> int:
        """Consume one JSON value at ``pos`` by its brackets and quotes only; its length."""
        start = self.base + self.pos
        first = self.buf[self.pos]
        depth = 0
        in_string = scalar = False
        if first == '"':
            in_string = True
            self.pos += 1
        elif first not in "{[":
            scalar = True
        while True:
            buf = self.buf
            pos = self.pos
            size = len(buf)
            done = False
            while pos < size:
                if in_string:
                    pos = _IN_STRING.match(buf, pos).end()  # type: ignore[union-attr]
                    if pos >= size or buf[pos] != '"':
                        break  # the string (or an escape) goes on in the next chunk
                    in_string = False
                    pos += 1
                    if depth == 0:
                        done = True
                        break
                elif scalar:
                    pos = _SCALAR.match(buf, pos).end()  # type: ignore[union-attr]
                    done = pos < size
                    break
                else:
                    pos = _PLAIN.match(buf, pos).end()  # type: ignore[union-attr]
                    if pos >= size:
                        break
                    char = buf[pos]
                    pos += 1
                    if char == '"':
                        in_string = True
                    elif char in "{[":
                        depth += 1
                    else:
                        depth -= 1
                        if depth <= 0:
                            done = True
                            break
            self.pos = pos
            if done or (scalar and self.eof):
                return self.base + self.pos - start
            if not self.fill():
                if scalar:
                    return self.base + self.pos - start
                raise self.broken(f"the input ends inside {what} (truncated JSON?)", None,
                                  self.pos)


def _deep_span(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` may nest deeper than MAX_DEPTH (cheap: counts brackets)."""
    return end - start > MAX_DEPTH and (
        text.count("{", start, end) + text.count("[", start, end) > MAX_DEPTH
    )


def json_values(sc: Scanner, keep_text: bool) -> Iterator[RawRecord]:
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


def _list_items(sc: Scanner, keep_text: bool, count: int) -> Iterator[RawRecord]:
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
        except (ValueError, RecursionError):  # a broken, too deep or too long push: slowly
            after = ""
        if after == "," and not _deep_span(buf, start, end):
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
        text = sc.buf[origin - sc.base:sc.pos] if keep_text and type(value) is not Broken else None
        yield line, index, text, value
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


def _object(sc: Scanner, line: int) -> Iterator[RawRecord]:
    """A top-level object, streamed: its ``dataLayer`` push by push, the other keys as metadata.

    Metadata written after ``dataLayer`` still applies to the page: its pushes are held until the
    object ends, up to :data:`HOLD_PUSHES`; past that they stream on, and a metadata key that
    comes later is reported as a :class:`Broken` record rather than silently ignored.
    """
    sc.pos += 1
    meta: dict[str, Any] = {}
    held: list[RawRecord] = []
    has_list = started = spoiled = False
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
            value = sc.value(None, f"{key!r} of the object")
            if type(value) is Broken:
                spoiled = True  # a plain push without this key would be a wrong one
                yield key_line, None, None, value
            elif started:
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
        if not spoiled:
            yield line, None, None, meta  # a plain push written as a top-level object
        return
    if not started:
        yield line, None, None, PageStart(meta, "dataLayer")
        yield from held
    yield sc.line_at(sc.pos), None, None, PAGE_END


def jsonl_blocks(stream: IO[bytes], size: int | None = None, max_record: int = MAX_RECORD
                 ) -> Iterator[tuple[int, bytes | Broken]]:
    """Whole lines in blocks of about ``size`` bytes: ``(number of the first line, bytes)``.

    Reads with ``read1`` so that nothing read is lost when the input breaks: the whole lines
    before the break come out, then the read error is raised. A line longer than
    ``max_record`` bytes is skipped (never held whole) and comes as a :class:`Broken` record.
    """
    size = size or CHUNK
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
            if pending_size > max_record:
                rest = yield from _skip_line(read1, size, number, whole, max_record)
                number += 1
                pending, pending_size = ([rest], len(rest)) if rest else ([], 0)
                continue
            pending = [whole]
            continue
        block = whole[:cut]
        yield number, block
        number += block.count(b"\n")
        pending = [whole[cut:]] if cut < len(whole) else []
        pending_size = len(whole) - cut


def _skip_line(read1: Any, size: int, number: int, head: bytes, max_record: int
               ) -> Generator[tuple[int, bytes | Broken], None, bytes]:
    """Read on to the end of a line too long to hold; its record, then what follows it."""
    skipped = len(head)
    rest = b""
    try:
        while True:
            data = read1(size)
            if not data:
                break
            end = data.find(b"\n")
            if end >= 0:
                skipped += end + 1
                rest = data[end + 1:]
                break
            skipped += len(data)
    finally:  # also before a read error: the long line is accounted for
        yield number, too_large(number, skipped, head, max_record)
    return rest
