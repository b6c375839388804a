"""``ga-ee-bridge send COMMANDS.jsonl...``: deliver Tracking API commands (one JSON per line).

Reads what ``convert`` writes, or any ``{"name": "customers/events" | "customers", "data": ...}``
lines, and sends them in batches with retries. Every line ends accepted, refused (with its reason)
or still pending. With ``--spool PATH`` each line is on disk before it is sent, and so is how far
each input was read, by content: a run that was interrupted (even killed) resumes where it stopped
without sending an accepted line again, also when the file was touched, copied or downloaded again;
a file whose content changed is refused unless ``--restart``. A line without a timestamp gets one
derived from the input (stored in the spool), and every line a ``command_id`` from its position, so
any resend is byte-identical. Lines that cannot be read (not UTF-8, not JSON, not a command) are
refused one by one, and with a spool kept as dead letters, so a rerun still reports them. Exit
status 0 only when every line was accepted; 3 when some were refused; 1 when none was accepted or
some are still pending; 2 for a usage error or a changed input; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from ga_ee_bridge.cli import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from ga_ee_bridge.cli._common import (
    COMMAND_HELP,
    add_quiet_option,
    examples,
    progress_bar,
    reason_text,
)
from ga_ee_bridge.cli._connection import ConfigError, add_connection_arguments, client_from_args
from ga_ee_bridge.convert.sniff import looks_like
from ga_ee_bridge.core.events import CUSTOMER_COMMAND, EVENT_COMMAND
from ga_ee_bridge.errors import SpoolError
from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.sender import MAX_BATCH
from ga_ee_bridge.send.spool import Spool

__all__ = ["add_parser", "not_commands", "run"]

_EXAMPLES = (
    ("ga-ee-bridge convert dump.json --id registered=user.email -o events.jsonl",
     "first convert the dump: send reads commands, not dataLayer pushes"),
    ("ga-ee-bridge send events.jsonl --spool send.db --max-rps 50",
     "send them (credentials from EXPONEA_PROJECT_TOKEN, EXPONEA_API_KEY_ID and "
     "EXPONEA_API_SECRET), at most 50 requests a second; run it again to resume"),
    ("ga-ee-bridge spool list send.db", "then look at what the server refused"),
)

_SHOWN_REASONS = 10
_INPUT_KEY = "send:input:"
_STAMP_STEP = 1e-6  # seconds between the derived timestamps of consecutive lines
_HASH_CHUNK = 1 << 20
_SHOWN_LINE = 1000  # characters of an unreadable line kept in its dead letter


def add_parser(subparsers: Any) -> None:
    """Register ``send``."""
    parser = subparsers.add_parser(
        "send", help=COMMAND_HELP["send"],
        description=__doc__, epilog=examples(*_EXAMPLES))
    parser.add_argument("files", nargs="+", metavar="COMMANDS.jsonl",
                        help="files of commands, one JSON object per line ('-': stdin), as "
                        "'ga-ee-bridge convert' writes them")
    parser.add_argument("--spool", metavar="PATH",
                        help="durable spool (SQLite): resume an interrupted run without resending")
    parser.add_argument("--restart", action="store_true",
                        help="with --spool: send the inputs from their first line, even when an "
                             "earlier run stored progress for them (or their content changed)")
    add_quiet_option(parser, "no progress bar (it shows only on a terminal anyway)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help=argparse.SUPPRESS)  # before --quiet; kept for old scripts
    add_connection_arguments(parser)
    parser.set_defaults(run=run)


class _Failures:
    """Lines that could not even be queued, with their reasons."""

    def __init__(self) -> None:
        self.count = 0
        self.reasons: collections.Counter[str] = collections.Counter()
        self.examples: list[str] = []

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        self.reasons[reason.split(": ", 1)[0] if reason.startswith("commands[") else reason] += 1
        if len(self.examples) < _SHOWN_REASONS:
            self.examples.append(f"{where}: {reason}")


@dataclass
class _Input:
    """How far one input was read, stored in the spool (``send:input:<id>``), found by content."""

    id: str  # the command_id prefix of its lines
    path: str
    offset: int = 0  # bytes read and stored
    lines: int = 0  # lines read and stored
    sha: str = ""  # sha256 of the first ``offset`` bytes
    base: float = 0.0  # the derived timestamp of line 1
    count: int = 0  # non-empty lines stored (commands and refusals)

    @property
    def key(self) -> str:
        return _INPUT_KEY + self.id

    @classmethod
    def new(cls, path: str) -> _Input:
        return cls(uuid.uuid4().hex[:12], path, base=round(time.time(), 3))


class _Changed(Exception):
    """An input whose content differs from what an earlier run stored progress for."""


def _prefix_hash(path: Path, size: int) -> Any:
    """A sha256 object fed with the first ``size`` bytes of ``path``."""
    digest = hashlib.sha256()
    left = size
    with path.open("rb") as stream:
        while left > 0:
            chunk = stream.read(min(_HASH_CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest


def _find_input(spool: Spool, path: Path, *, restart: bool) -> tuple[_Input, Any]:
    """This input's progress record (matched by content) and the hash of what it covers."""
    resolved = str(path.resolve())
    size = path.stat().st_size
    records = [_Input(**json.loads(v)) for v in spool.meta_items(_INPUT_KEY).values()]
    same_path = [r for r in records if r.path == resolved]
    for record in sorted(records, key=lambda r: -r.offset):
        if 0 < record.offset <= size:
            digest = _prefix_hash(path, record.offset)
            if digest.hexdigest() == record.sha:
                if restart:
                    spool.delete_meta(record.key)
                    break
                if record.path != resolved:
                    print(f"ga-ee-bridge: {path}: same content as {record.path}", file=sys.stderr)
                record.path = resolved
                return record, digest
    if same_path and not restart:
        record = same_path[0]
        raise _Changed(
            f"{path}: changed since a run stored its progress in {spool.path} (its first "
            f"{record.lines} line(s) differ from what was sent); run again with --restart to "
            "send it from its first line, or use another spool")
    for record in same_path:
        spool.delete_meta(record.key)
    return _Input.new(resolved), hashlib.sha256()


def _chunks(stream: IO[bytes], first: int) -> Iterator[list[tuple[int, bytes]]]:
    """Raw lines as (line number, bytes), numbered from ``first``, MAX_BATCH at a time."""
    chunk: list[tuple[int, bytes]] = []
    for number, line in enumerate(stream, first):
        chunk.append((number, line))
        if len(chunk) == MAX_BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count_lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for _ in stream)


def _stamped(value: Any, record: _Input, number: int) -> Any:
    """The line's command with a ``command_id`` from its position and, if it has none, a
    timestamp derived from the input (so every resend is byte-identical)."""
    if not isinstance(value, dict):
        return value
    command = dict(value)
    command.setdefault("command_id", f"{record.id}:{number}")
    data = command.get("data")
    key = {EVENT_COMMAND: "timestamp", CUSTOMER_COMMAND: "update_timestamp"}.get(
        command.get("name"))  # type: ignore[arg-type]
    if key is not None and isinstance(data, dict) and data.get(key) is None:
        command["data"] = {**data, key: round(record.base + (number - 1) * _STAMP_STEP, 6)}
    return command


def _read_line(raw: bytes) -> tuple[Any, str | None, str]:
    """(parsed JSON or None, the reason it cannot be used or None, the text to keep)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, (f"not UTF-8: byte 0x{raw[error.start]:02x} at column "
                      f"{error.start + 1}"), raw.decode("utf-8", "backslashreplace")
    if not text.strip():
        return None, None, ""
    try:
        return json.loads(text), None, text
    except json.JSONDecodeError as error:
        return None, f"not JSON: {error.msg} at column {error.colno}", text


def _queue_file(client: Exponea, name: str, stream: IO[bytes], record: _Input, digest: Any,
                failures: _Failures, *, keep: bool) -> int:
    """Queue one input's lines after ``record.lines``; returns how many lines were read.

    With ``keep`` (a spool), each chunk's commands, its unreadable lines (as dead letters) and the
    input's progress are stored in one transaction.
    """
    read = 0
    for chunk in _chunks(stream, record.lines + 1):
        read += len(chunk)
        commands = []
        refused: list[tuple[dict[str, Any], str]] = []
        for number, raw in chunk:
            digest.update(raw)
            record.offset += len(raw)
            value, reason, text = _read_line(raw)
            if reason is None and not text:
                continue  # an empty line
            record.count += 1
            if reason is None:
                try:
                    commands.append(client.check_command(_stamped(value, record, number),
                                                         "command"))
                    continue
                except ValueError as error:
                    reason = str(error)
            where = f"{name}:{number}"
            failures.add(where, reason)
            refused.append(({"command_id": f"{record.id}:{number}", "source": where,
                             "line": text.rstrip("\n")[:_SHOWN_LINE]}, f"{where}: {reason}"))
        record.lines = chunk[-1][0]
        record.sha = digest.hexdigest()
        progress = (record.key, json.dumps(asdict(record))) if keep else None
        # Checked and time-stamped above: the second check keeps each command as it is.
        client.send_commands(commands, progress=progress, refused=refused if keep else ())
    return read


def not_commands(path: Path) -> str | None:
    """Why ``path`` is no file of commands (a dataLayer dump, an image...), judged from its
    start; None when it may be one (bad lines further on are reported one by one)."""
    with path.open("rb") as stream:
        head = stream.read(1 << 16)
    stripped = head.lstrip()
    if not stripped:
        return None
    first = stripped.split(b"\n", 1)[0]
    try:
        value = json.loads(first)
    except ValueError:
        value = None
        if stripped[:1] not in (b"[", b"{"):
            return f"it looks like {looks_like(head)}, not JSON lines of commands"
    if isinstance(value, dict) and "name" in value and "data" in value:
        return None
    dump_keys = (b'"ecommerce"', b'"dataLayer"', b'"event"', b'"gtm.start"')
    if isinstance(value, list) or stripped[:1] == b"[" or (
        isinstance(value, dict | None) and any(key in head for key in dump_keys)
    ):
        return (f"it looks like a dataLayer dump, not commands: convert it first: "
                f"ga-ee-bridge convert {path}")
    return None


def run(args: argparse.Namespace) -> int:
    """Send the files; print a summary to stderr."""
    paths = [Path(f) for f in args.files if f != "-"]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"ga-ee-bridge send: error: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    if args.spool and any(p.resolve() == Path(args.spool).resolve() for p in paths):
        print(f"ga-ee-bridge send: error: --spool {args.spool} is one of the input files; give "
              "the spool a name of its own (e.g. send.db)", file=sys.stderr)
        return EXIT_USAGE
    for given in paths:
        why = not_commands(given)
        if why:
            print(f"ga-ee-bridge send: error: {given}: {why}", file=sys.stderr)
            return EXIT_USAGE
    try:
        client = client_from_args(args, spool=args.spool, queue_timeout=3600.0,
                                  flush_interval=0.05, exit_timeout=0.0)
    except (ConfigError, ValueError, SpoolError) as error:
        print(f"ga-ee-bridge send: {error}", file=sys.stderr)
        return EXIT_USAGE
    failures = _Failures()
    spool = client.spool
    plan: list[tuple[str, Path | None, _Input, Any]] = []
    total = client.queued  # left over in the spool by an earlier run: sent first
    try:
        for name in args.files:
            path = None if name == "-" else Path(name)
            if path is not None and spool is not None:
                record, digest = _find_input(spool, path, restart=args.restart)
            else:
                record, digest = _Input.new(name), hashlib.sha256()
            if path is not None:
                total += max(0, _count_lines(path) - record.lines)
            plan.append((name, path, record, digest))
    except (_Changed, SpoolError) as error:
        client.close(0)
        print(f"ga-ee-bridge send: {error}", file=sys.stderr)
        return EXIT_USAGE
    quiet = args.quiet or args.progress is False
    bar = progress_bar(total=total, unit=" commands", quiet=quiet)
    try:
        for name, path, record, digest in plan:
            if path is None:
                stdin = getattr(sys.stdin, "buffer", None) or io.BytesIO(sys.stdin.read().encode())
                _queue_file(client, "<stdin>", stdin, record, digest, failures, keep=False)
                continue
            if record.lines:
                print(f"ga-ee-bridge: {name}: resuming after line {record.lines}", file=sys.stderr)
            with path.open("rb") as stream:
                stream.seek(record.offset)
                _queue_file(client, name, stream, record, digest, failures,
                            keep=spool is not None)
            _update(bar, client, failures)
        while not client.flush(0.2):
            _update(bar, client, failures)
        _update(bar, client, failures)
    except KeyboardInterrupt:
        left = client.queued
        client.close(0)
        if bar is not None:
            bar.close()
        where = f"; they stay in {spool.path}: run again to resume" if spool else ""
        print(f"ga-ee-bridge send: interrupted with {left} command(s) undelivered{where}",
              file=sys.stderr)
        return 130
    except SpoolError as error:
        left = client.queued
        client.close(0)
        print(f"ga-ee-bridge send: {error}; {left} command(s) stay pending in the spool: "
              "run again once it can be written", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if bar is not None:
            bar.close()
    records = [record for _, path, record, _ in plan if path is not None]
    dead = (sum(spool.dead_count(f"{r.id}:") for r in records) if spool is not None else None)
    pending = client.queued
    client.close(0)
    return _summary(client, failures, dead=dead, pending=pending,
                    lines=sum(r.count for r in records))


def _update(bar: Any, client: Exponea, failures: _Failures) -> None:
    if bar is None:
        return
    stats = client.stats
    bar.n = stats.accepted + stats.failed + failures.count
    bar.set_postfix(failed=stats.failed + failures.count, retries=stats.retries, refresh=False)
    bar.refresh()


def _summary(client: Exponea, failures: _Failures, *, dead: int | None, pending: int,
             lines: int) -> int:
    """Print the summary; the exit status says whether every line was accepted.

    ``dead``: with a spool, the dead letters of these inputs, earlier runs' included.
    """
    stats = client.stats
    failed = stats.failed + failures.count
    out = sys.stderr
    print(f"ga-ee-bridge: sent: {stats.accepted} accepted, {failed} failed, {stats.retries} "
          f"retried request(s) ({stats.requests} requests)", file=out)
    reasons = stats.failures + failures.reasons
    for reason, count in reasons.most_common(_SHOWN_REASONS):
        print(f"ga-ee-bridge:   {count} x {reason_text(reason)}", file=out)
    for example in failures.examples:
        print(f"ga-ee-bridge:   {example}", file=out)
    spool = client.spool
    if spool is not None and dead is not None and dead > failed:
        print(f"ga-ee-bridge: these inputs have {dead} refused line(s) in all, earlier runs "
              "included",
              file=out)
    if spool is not None and (dead or stats.failed):
        print(f"ga-ee-bridge: dead letters kept in {spool.path}: see "
              f"'ga-ee-bridge spool list {spool.path}'", file=out)
    if pending:
        where = f" in {spool.path}: run again to send them" if spool is not None else ""
        print(f"ga-ee-bridge: {pending} command(s) still pending{where}", file=out)
        return EXIT_FAILURE
    refused = max(failed, dead or 0)
    if refused == 0:
        return EXIT_OK
    accepted_ever = stats.accepted or (lines - refused if dead is not None else 0)
    return EXIT_PARTIAL if accepted_ever > 0 else EXIT_FAILURE
