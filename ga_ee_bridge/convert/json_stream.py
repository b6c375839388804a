"""Streaming JSON: values, list items and page objects read from a buffered text stream.

``json.JSONDecoder.raw_decode`` over chunks refilled as needed (measured faster than ijson's C
backend for dumps), tracking lines so that a break is reported where it is; and
:func:`jsonl_blocks`, whole JSON lines in blocks that survive a read error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

from ga_ee_bridge.convert.records import (
    PAGE_END,
    READ_ERRORS,
    Broken,
    PageStart,
    RawRecord,
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

CHUNK = 1 << 20
#: Longest record (in characters) read before a parse error is believed to be real.
MAX_RECORD = 1 << 26
#: Pushes of a page object held until its metadata is complete (see :func:`_object`).
HOLD_PUSHES = 10_000
_WS = re.compile(r"[ \t\n\r]*")
_raw_decode = json.JSONDecoder().raw_decode




class BrokenJson(Exception):
    def __init__(self, message: str, line: int, index: int | None, text: str):
        super().__init__(message)
        self.message, self.line, self.index, self.text = message, line, index, text


class Scanner:
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
            chunk = self._read(max(CHUNK, len(self.buf) - self.pos))
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

    def broken(self, message: str, index: int | None, i: int) -> BrokenJson:
        where = self.where(i)
        return BrokenJson(f"{message} at {where}", self._line, index, self.buf[self.pos:][:4096])

    def peek(self) -> str:
        """The next non-blank character, or "" at the end of the input."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def value(self, index: int | None, what: str) -> Any:
        """Decode the JSON value at ``pos``; raises :class:`BrokenJson` saying where."""
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


def _object(sc: Scanner, line: int) -> Iterator[RawRecord]:
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
            pending = [whole]
            continue
        block = whole[:cut]
        yield number, block
        number += block.count(b"\n")
        pending = [whole[cut:]] if cut < len(whole) else []
        pending_size = len(whole) - cut
