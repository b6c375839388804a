"""The records a dump is read into: pushes, page markers, framed sources, and broken text.

A record is ``(line, index, value)``: ``value`` is one dataLayer push (any JSON value), a
:class:`PageStart` / :data:`PAGE_END` marker around the pushes of a page object, a
:class:`Source` of a file-level form, or a :class:`Broken` record for text that is not JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ga_ee_bridge.convert.reasons import MAX_DEPTH, RejectReason, fault_of
from ga_ee_bridge.core.fastjson import fast_json

__all__ = [
    "FAST_LOADS",
    "PAGE_END",
    "READ_ERRORS",
    "UNDECODED",
    "Broken",
    "PageStart",
    "RawRecord",
    "Record",
    "Source",
    "broken_line",
    "decode_line",
    "decode_raw",
    "decode_record",
    "deep_broken",
    "is_gtm_js",
    "is_page_object",
    "too_deep",
    "too_deep_text",
    "too_large",
    "unreadable",
]

#: ``(line, index, value)``: one push or marker, where it starts, its index in its list.
Record = tuple[int, int | None, Any]
#: ``(line, index, raw, value)``: a record before decoding; ``value`` is :data:`UNDECODED` when
#: only ``raw`` (the JSON text of the record) is known.
RawRecord = tuple[int, int | None, Any, Any]

#: What reading a damaged input raises (a truncated or corrupt gzip stream, an I/O error).
READ_ERRORS = (OSError, EOFError)
#: How much of a broken record's text a reject shows.
TEXT_LIMIT = 4096


def unreadable(err: BaseException, where: str) -> Broken:
    """The :class:`Broken` record for an input that cannot be read on from ``where``."""
    return Broken(f"the input cannot be read on from {where}: {err}; everything before it was "
                  "read", "", RejectReason.UNREADABLE_INPUT)


@dataclass(frozen=True, slots=True)
class Broken:
    """Text that is not JSON: ``message`` says what and where; ``text`` is what was read.

    ``reason`` is the reject reason it becomes.
    """

    message: str
    text: str
    reason: str = RejectReason.BROKEN_JSON


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
    expands it into pages (see :mod:`ga_ee_bridge.convert.forms`); each is a page of its own.
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


def decode_raw(record: RawRecord) -> Iterator[Record]:
    """Records from one raw record: decoded, a page object expanded into its marked pushes."""
    line, index, raw, value = record
    if value is UNDECODED:
        value = decode_record(line, raw)
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


def broken_line(line: int, raw: bytes | str, err: BaseException | None = None) -> Broken:
    """The :class:`Broken` record of a JSON line that does not decode (``err``: why, when known;
    else it is decoded again to find out), with the reason its cause gives."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if err is None:
        try:
            json.loads(raw)
        except (ValueError, RecursionError) as found:
            err = found
        else:
            err = ValueError("not exactly one JSON value")
    if isinstance(err, json.JSONDecodeError):
        return Broken(f"broken JSON on line {line}: {err.msg} at column {err.pos + 1}",
                      text.rstrip("\r\n"))
    reason, cause = fault_of(err)
    if reason is RejectReason.CONVERSION_FAILED:
        reason, cause = RejectReason.BROKEN_JSON, f"broken JSON: {err}"
    return Broken(f"line {line}: {cause}", text.rstrip("\r\n")[:TEXT_LIMIT], reason)


def too_large(line: int, size: int, head: bytes, limit: int) -> Broken:
    """The :class:`Broken` record of a line longer than ``limit`` bytes, skipped unread."""
    return Broken(
        f"line {line} is {size:,} bytes long, more than the {limit:,} a record may have "
        "(--max-record-size); skipped, reading goes on with the next line",
        head[:TEXT_LIMIT].decode("utf-8", "replace"), RejectReason.TOO_LARGE)


def too_deep_text(raw: bytes | str) -> bool:
    """Whether JSON text may nest deeper than :data:`MAX_DEPTH` (cheap: counts the brackets)."""
    if len(raw) <= MAX_DEPTH:
        return False
    if type(raw) is bytes:
        return raw.count(b"{") + raw.count(b"[") > MAX_DEPTH
    return raw.count("{") + raw.count("[") > MAX_DEPTH  # type: ignore[arg-type]


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests objects and lists deeper than ``limit`` levels (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        kind = type(item)
        if kind is dict:
            children: Any = item.values()
        elif kind is list:
            children = item
        else:
            continue
        if level > limit:
            return True
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, level + 1))
    return False


def deep_broken(line: int, text: bytes | str, where: str = "") -> Broken:
    """The :class:`Broken` record of a value nested deeper than :data:`MAX_DEPTH`."""
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return Broken(f"line {line}{where}: too deeply nested (more than {MAX_DEPTH} levels)",
                  shown.rstrip("\r\n")[:TEXT_LIMIT], RejectReason.TOO_DEEP)


_raw_decode = json.JSONDecoder().raw_decode

Loads = Callable[[bytes | str], Any]


def _fast_loads() -> Loads | None:
    """``orjson.loads`` when :func:`~ga_ee_bridge.core.fastjson.fast_json` offers orjson (the
    extra ``fast``, unless ``GA_EE_BRIDGE_JSON=stdlib``); else ``None``."""
    orjson = fast_json()
    return None if orjson is None else orjson.loads


#: The faster decoder used for lines when installed (see :func:`decode_line`), or ``None``.
FAST_LOADS = _fast_loads()
#: 19 digits in a row: maybe an integer orjson turns into a float where ``json`` keeps an int.
#: Bytes are searched as ``raw.translate(_DIGITS).find(_LONG_RUN)`` (5x faster than a regex);
#: the same text has every ``{`` and ``[`` as ``{``, so one count of it is their number.
_LONG_DIGITS = re.compile(r"[0-9]{19}")
_DIGITS = bytes(48 if 48 <= byte <= 57 else 123 if byte in b"{[" else 32 for byte in range(256))
_LONG_RUN = b"0" * 19


def _fast_value(raw: bytes | str, loads: Loads) -> Any:
    """``loads(raw)`` when it is certainly what ``json`` gives, else :data:`UNDECODED`.

    orjson refuses NaN, lone surrogates, numbers beyond a double and more than 1024 levels
    (``json`` reads them), and reads integers beyond 64 bits as floats: all left to ``json``.
    """
    shape = None
    if type(raw) is bytes:
        shape = raw.translate(_DIGITS)
        if shape.find(_LONG_RUN) >= 0:
            return UNDECODED
    elif _LONG_DIGITS.search(raw) is not None:  # type: ignore[arg-type]
        return UNDECODED
    try:
        value = loads(raw)
    except (ValueError, RecursionError):
        return UNDECODED
    if len(raw) > 2 * MAX_DEPTH and (
            too_deep_text(raw) if shape is None else shape.count(b"{") > MAX_DEPTH
    ) and too_deep(value):
        return UNDECODED  # json may fail where orjson does not: its answer decides
    return value


def decode_line(raw: bytes | str, *, loads: Loads | None = FAST_LOADS) -> Any:
    """A JSON line decoded (UTF-8), or :data:`UNDECODED` when it is not exactly one value.

    ``json.loads(bytes)`` spends a third of its time detecting the encoding; lines are UTF-8.
    ``loads``: a faster decoder tried first (default :data:`FAST_LOADS`; ``None``: ``json``
    only); the value is always the one ``json`` gives.
    """
    if loads is not None and not raw[:1].isspace():  # json does not skip leading space here
        value = _fast_value(raw, loads)
        if value is not UNDECODED:
            return value
    try:
        text = raw.decode("utf-8") if type(raw) is bytes else raw
        value, end = _raw_decode(text)  # type: ignore[arg-type]
    except (ValueError, RecursionError):  # also UnicodeDecodeError
        return UNDECODED
    if end != len(text) and not text[end:].isspace():
        return UNDECODED
    return value


def decode_record(line: int, raw: bytes | str, *, loads: Loads | None = FAST_LOADS) -> Any:
    """A JSON line decoded, or the :class:`Broken` record saying why it cannot be (broken, not
    UTF-8, a number too large, nested too deep). ``loads`` as for :func:`decode_line`."""
    if loads is not None:
        value = _fast_value(raw, loads)
        if value is not UNDECODED:
            return value
    try:  # decode_line, inline: this runs once a line
        text = raw.decode("utf-8") if type(raw) is bytes else raw
        value, end = _raw_decode(text)  # type: ignore[arg-type]
        if end != len(text) and not text[end:].isspace():
            raise ValueError("more than one JSON value")
    except (ValueError, RecursionError):  # also UnicodeDecodeError
        try:
            value = json.loads(raw)  # another encoding (UTF-16...), or for the error's message
        except (ValueError, RecursionError) as err:
            return broken_line(line, raw, err)
    if len(raw) > 2 * MAX_DEPTH and too_deep_text(raw) and too_deep(value):
        return deep_broken(line, raw)
    return value
