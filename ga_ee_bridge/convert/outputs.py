"""Writers for converted dumps: Tracking API commands (JSONL), CSV per event type, rejects.

Each writer takes :class:`~ga_ee_bridge.convert.Segment`s (events already encoded by the
matching encoder of :mod:`ga_ee_bridge.convert.encoders`) in input order, so its output depends on
nothing else.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import stat
import sys
import tempfile
from collections import Counter
from types import TracebackType
from typing import IO, Any

from ga_ee_bridge.convert.results import (
    ConvertStats,
    Reject,
    Run,
    Segment,
)
from ga_ee_bridge.convert.updates import CUSTOMERS

__all__ = [
    "WRITE_BUFFER",
    "AtomicFile",
    "CommandsWriter",
    "CsvWriter",
    "RejectsWriter",
    "csv_cell",
    "csv_header",
    "csv_row",
    "format_summary",
    "is_special_file",
    "prepare_directory",
    "standard_output",
]


def is_special_file(path: str) -> bool:
    """True for an existing file that is not a regular file: ``/dev/null``, a FIFO, a terminal.

    Such a file is written in place (never replaced, never given a sibling such as
    ``/dev/null.rejects.jsonl``).
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


#: The write buffer of a regular output file. With the default 8 KiB a converter makes a system
#: call every 20 lines, a tenth of its time (705k command lines, 285 MB: 1.3 s CPU, 0.36 s with
#: 1 MiB). A special file (a FIFO, a terminal) keeps the default so its reader sees lines soon.
WRITE_BUFFER = 1 << 20


def standard_output() -> IO[str]:
    """Standard output for the commands: redirected to a regular file, a stream of its own with
    :data:`WRITE_BUFFER` (closed by nobody: flush it); anything else, ``sys.stdout`` itself."""
    try:
        regular = stat.S_ISREG(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # no descriptor (a test's capture): as it is
        regular = False
    if not regular:
        return sys.stdout
    sys.stdout.flush()
    return open(sys.stdout.fileno(), "w", encoding=sys.stdout.encoding,
                errors=sys.stdout.errors, newline="", buffering=WRITE_BUFFER, closefd=False)


def prepare_directory(path: str) -> None:
    """The one rule for every output option: missing parent directories are created."""
    os.makedirs(path or ".", exist_ok=True)


class AtomicFile:
    """A text output that appears under its name only when complete.

    Written to a hidden temporary file beside ``path`` (missing directories are created) and
    renamed over ``path`` by :meth:`commit`; :meth:`discard` (or leaving the ``with`` block on an
    exception, Ctrl-C included) removes it, so an interrupted run leaves no partial file under the
    final name. A special file (``/dev/null``, a FIFO) is written in place.
    """

    def __init__(self, path: str):
        self.path = path
        self._temp: str | None = None
        if is_special_file(path):
            self.stream: IO[str] = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            return
        directory, name = os.path.split(os.path.abspath(path))
        prepare_directory(directory)
        fd, self._temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
        self.stream = os.fdopen(fd, "w", encoding="utf-8", newline="", buffering=WRITE_BUFFER)

    def commit(self) -> None:
        """Close the file and give it its final name."""
        self.stream.close()
        if self._temp is not None:
            os.chmod(self._temp, 0o666 & ~_umask())
            os.replace(self._temp, self.path)
            self._temp = None

    def discard(self) -> None:
        """Close and remove the temporary file (nothing under the final name changes)."""
        with contextlib.suppress(OSError):
            self.stream.close()
        if self._temp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp)
            self._temp = None

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class CommandsWriter:
    """``--format commands``: one Tracking API batch command a line."""

    encoder = "commands"

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def write(self, segment: Segment | Run) -> None:
        """Write the commands of one push (or of a run of pushes)."""
        if isinstance(segment, Run):
            self.stream.write(segment.text)
        elif len(segment.events) == 1:
            self.stream.write(segment.events[0][1])
        else:  # one write a push: a text stream's write costs more than joining
            self.stream.write("".join([line for _, line in segment.events]))

    def close(self) -> list[str]:
        """Flush; returns the files written (none: the stream belongs to the caller)."""
        self.stream.flush()
        return []


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def csv_cell(value: Any) -> str:
    """A property as CSV text: numbers as JSON writes them, objects and lists as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def csv_header(ids: list[str], properties: list[str], *, stamped: bool = True) -> list[str]:
    """The header of a CSV: id columns, ``timestamp`` (``stamped``: not for a customer import),
    properties (a property named like an id column or ``timestamp`` becomes ``property:NAME``)."""
    taken = {*ids, "timestamp"} if stamped else set(ids)
    return [*ids, *(["timestamp"] if stamped else [])] + [
        f"property:{name}" if name in taken else name for name in properties
    ]


def csv_row(customer_ids: dict[str, Any], seconds: float | None, values: dict[str, Any],
            ids: list[str], properties: list[str], *, stamped: bool = True) -> list[str]:
    """One row's CSV cells under :func:`csv_header`; missing values are empty cells."""
    row = [csv_cell(customer_ids.get(name)) for name in ids]
    if stamped:
        row.append("" if seconds is None else repr(seconds))
    row.extend(csv_cell(values.get(name)) for name in properties)
    return row


class CsvWriter:
    """``--format csv``: ``DIR/<event_type>.csv`` each, for Bloomreach's event import, and
    ``DIR/customers.csv`` (``--update``; ids and properties, no timestamp) for its customer import.

    Columns: one per customer id, ``timestamp``, one per property: the union over the file's
    events in first-seen order. Rows are spooled to a temporary file per event type (next to the
    output) and the CSV is written at :meth:`close`, when every column is known; memory holds
    only the column names. A property named like an id column or ``timestamp`` is written as
    ``property:NAME``.
    """

    encoder = "csv"

    def __init__(self, directory: str):
        prepare_directory(directory)
        self.directory = directory
        self._spools: dict[str, IO[str]] = {}
        self._ids: dict[str, dict[str, None]] = {}
        self._properties: dict[str, dict[str, None]] = {}
        self._seen: dict[str, set[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        self.rows: Counter[str] = Counter()

    def write(self, segment: Segment) -> None:
        """Spool the rows of one push."""
        for event_type, (line, id_names, property_names) in segment.events:
            spool = self._spools.get(event_type)
            if spool is None:
                spool = self._spools[event_type] = tempfile.TemporaryFile(  # noqa: SIM115
                    "w+", encoding="utf-8", dir=self.directory, prefix=".spool-"
                )
                self._ids[event_type] = {}
                self._properties[event_type] = {}
                self._seen[event_type] = set()
            spool.write(line)
            self.rows[event_type] += 1
            names = (id_names, property_names)
            seen = self._seen[event_type]
            if names not in seen:
                seen.add(names)
                self._ids[event_type].update(dict.fromkeys(id_names))
                self._properties[event_type].update(dict.fromkeys(property_names))

    def path(self, event_type: str) -> str:
        """Where the CSV of ``event_type`` goes (``customers.csv``: the ``--update`` commands;
        an event type named ``customers`` goes to ``event-customers.csv``)."""
        if event_type == CUSTOMERS:
            return os.path.join(self.directory, "customers.csv")
        name = _UNSAFE.sub("_", event_type)
        return os.path.join(self.directory, ("event-" if name == "customers" else "") + name
                            + ".csv")

    def close(self) -> list[str]:
        """Write every CSV from its spool; returns the paths written."""
        written = []
        for event_type in sorted(self._spools):
            spool = self._spools[event_type]
            ids = list(self._ids[event_type])
            properties = list(self._properties[event_type])
            stamped = event_type != CUSTOMERS  # a customer import has no event time
            path = self.path(event_type)
            spool.seek(0)
            with AtomicFile(path) as atomic:
                writer = csv.writer(atomic.stream)
                writer.writerow(csv_header(ids, properties, stamped=stamped))
                for line in spool:
                    customer_ids, seconds, values = json.loads(line)
                    writer.writerow(csv_row(customer_ids, seconds, values, ids, properties,
                                            stamped=stamped))
            spool.close()
            written.append(path)
        self._spools.clear()
        return written

    def discard(self) -> None:
        """Drop the spooled rows (an interrupted run): no CSV is written."""
        for spool in self._spools.values():
            spool.close()
        self._spools.clear()


class RejectsWriter:
    """``--rejects``: one JSON record a reject (input, line, index, reason, errors, push)."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.count = 0

    def write(self, reject: Reject) -> None:
        """Write one reject."""
        self.stream.write(json.dumps(reject.to_json(), ensure_ascii=False) + "\n")
        self.count += 1


def format_summary(stats: ConvertStats, elapsed: float, *, written: str | None = None,
                   rejects_to: str | None = None) -> str:
    """The end-of-run summary: pushes, events per type, rejects per reason, duplicates, rate."""
    rate = stats.pushes / elapsed if elapsed > 0 else 0.0
    lines = [
        f"read {stats.pushes:,} pushes from {stats.inputs} input(s), {stats.pages:,} page(s): "
        f"{stats.ecommerce:,} ecommerce, "
        + (f"{stats.links:,} link clicks (--link), " if stats.links else "")
        + f"{stats.skipped:,} without ecommerce (skipped)",
    ]
    if stats.unsupported:
        names = ", ".join(f"{name} {count:,}" for name, count in sorted(stats.unsupported.items()))
        lines.append(f"skipped: {sum(stats.unsupported.values()):,} ecommerce event(s) with no "
                     f"UA Enhanced Ecommerce counterpart ({names})")
    if stats.not_for_analytics:
        names = ", ".join(f"{name} {count:,}"
                          for name, count in sorted(stats.not_for_analytics.items()))
        lines.append(f"skipped: {sum(stats.not_for_analytics.values()):,} gtag.js event(s) not "
                     f"for Analytics (send_to names only other products, e.g. AW-: {names})")
    total = sum(stats.events.values())
    if total:
        per_type = ", ".join(f"{name} {count:,}" for name, count in sorted(stats.events.items()))
        lines.append(f"events: {total:,} ({per_type})" + (f" -> {written}" if written else ""))
    else:
        lines.append("events: none")
    if stats.customers:
        lines.append(f"customer updates (--update): {stats.customers:,}")
    if stats.rejects:
        per_reason = ", ".join(
            f"{reason} {count:,}" for reason, count in sorted(stats.rejects.items())
        )
        lines.append(f"rejected: {stats.rejected:,} ({per_reason})"
                     + (f" -> {rejects_to}" if rejects_to else ""))
    else:
        lines.append("rejected: none")
    if stats.duplicates:
        lines.append(f"duplicate purchases dropped: {stats.duplicates:,} "
                     "(same transaction id as an earlier one; --keep-duplicates keeps them)")
    if stats.dropped:
        shown = ", ".join(
            f"{path} x{count:,} (first at {stats.dropped_first[path]})"
            for path, count in stats.dropped.most_common(5)
        )
        more = len(stats.dropped) - 5
        lines.append(f"keys left out (not Enhanced Ecommerce fields): {shown}"
                     + (f" and {more} more" if more > 0 else ""))
    if stats.warnings:
        shown = ", ".join(
            f"{kind} x{count:,} (first at {stats.warnings_first[kind].partition(' ')[0]})"
            for kind, count in stats.warnings.most_common(5)
        )
        more = len(stats.warnings) - 5
        lines.append(f"values left out, their events kept ({sum(stats.warnings.values()):,} "
                     f"warning(s)): {shown}" + (f" and {more} more kinds" if more > 0 else ""))
    lines.append(f"{elapsed:.2f} s, {rate:,.0f} pushes/s")
    return "\n".join(f"ga-ee-bridge: {line}" for line in lines)
