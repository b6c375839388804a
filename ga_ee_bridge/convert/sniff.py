"""What an input that is no dump looks like, from its first bytes: "a PNG image", "CSV".

Used to say something useful about the wrong file (a renamed image, a spreadsheet export) without
echoing its bytes.
"""

from __future__ import annotations

import json
import re

__all__ = ["looks_like", "shown_start"]

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx or .docx file is one; unzip it or export JSON)"),
    (b"SQLite format 3\x00", "an SQLite database (a spool?)"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"BZh", "a bzip2 archive (decompress it first: only gzip is read)"),
    (b"\xfd7zXZ\x00", "an xz archive (decompress it first: only gzip is read)"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive (decompress it first: only gzip is read)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xff\xfe", "UTF-16 text (save it as UTF-8)"),
    (b"\xfe\xff", "UTF-16 text (save it as UTF-8)"),
    (b"PAR1", "a Parquet file (export the table as JSON lines)"),
    (b"Obj\x01", "an Avro file (export the table as JSON lines)"),
)
_HTML = re.compile(rb"\s*(<!doctype html|<html|<head|<body)", re.I)
_XML = re.compile(rb"\s*<\?xml", re.I)


def _delimited(lines: list[str]) -> str | None:
    """The kind when the lines read as CSV/TSV: two lines or more, the same count (>0) of the
    delimiter on each."""
    lines = [line for line in lines if line.strip()]
    if len(lines) < 2:
        return None
    for delimiter, name in ((",", "CSV"), (";", "CSV (semicolon-separated)"), ("\t", "TSV")):
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return name
    return None


def looks_like(head: bytes) -> str:
    """A short description of what ``head`` (an input's first bytes) looks like."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if not head.strip():
        return "an empty file" if not head else "blank text"
    if _HTML.match(head):
        return "an HTML page (save the dataLayer, e.g. copy(JSON.stringify(dataLayer)), instead)"
    if _XML.match(head):
        return "an XML document"
    if b"\x00" in head[:4096]:
        return "binary data"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut at the end of the head
            return "binary data, or text that is not UTF-8"
        text = head[: err.start].decode("utf-8")
    lines = text.splitlines()
    whole = lines[:-1] if len(lines) > 1 and not text.endswith("\n") else lines
    first = whole[0] if whole else text
    try:
        json.loads(first)
    except ValueError:
        pass
    else:
        return "JSON, but not a dump of any known form"
    if whole and (kind := _delimited(whole[:20])):
        return kind
    return "plain text"


def shown_start(head: bytes, limit: int = 40) -> str:
    """The first characters of ``head`` when it is text (to be shown with ``repr``), else an
    empty string: binary bytes are never echoed."""
    what = looks_like(head)
    if not what.startswith(_TEXT_KINDS):
        return ""
    return head[:limit].decode("utf-8", "ignore")


_TEXT_KINDS = ("JSON", "CSV", "TSV", "plain text", "an HTML page", "an XML document")
