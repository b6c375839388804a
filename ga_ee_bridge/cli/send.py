"""``ga-ee-bridge send COMMANDS.jsonl...``: deliver Tracking API commands (one JSON per line).

Reads what ``convert`` writes, or any ``{"name": "customers/events" | "customers", "data": ...}``
lines, and sends them in batches with retries. With ``--spool PATH`` each line is on disk before it
is sent and the file position is stored with it, so a run that was interrupted (even killed) resumes
where it stopped without sending an accepted line again. Exit status 0 only when every line was
accepted; 3 when some were; 1 when none; 2 usage error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from ga_ee_bridge.cli import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from ga_ee_bridge.cli._common import add_quiet_option, examples, progress_bar, reason_text
from ga_ee_bridge.cli._connection import ConfigError, add_connection_arguments, client_from_args
from ga_ee_bridge.convert.sniff import looks_like
from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.sender import MAX_BATCH

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


def add_parser(subparsers: Any) -> None:
    """Register ``send``."""
    parser = subparsers.add_parser(
        "send", help="send Tracking API commands (JSON lines) to Exponea",
        description=__doc__, epilog=examples(*_EXAMPLES))
    parser.add_argument("files", nargs="+", metavar="COMMANDS.jsonl",
                        help="files of commands, one JSON object per line ('-': stdin), as "
                        "'ga-ee-bridge convert' writes them")
    parser.add_argument("--spool", metavar="PATH",
                        help="durable spool (SQLite): resume an interrupted run without resending")
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


def _progress_key(path: Path) -> str:
    stat = path.stat()
    return f"send:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def _chunks(stream: TextIO, skip: int) -> Iterator[list[tuple[int, str]]]:
    """Lines after the first ``skip``, as (line number, text), MAX_BATCH at a time."""
    chunk: list[tuple[int, str]] = []
    for number, line in enumerate(stream, 1):
        if number <= skip:
            continue
        chunk.append((number, line))
        if len(chunk) == MAX_BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count_lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for _ in stream)


def _queue_file(client: Exponea, name: str, stream: TextIO, key: str | None, skip: int,
                failures: _Failures) -> int:
    """Queue one file's lines after ``skip``; returns how many lines were read."""
    read = 0
    for chunk in _chunks(stream, skip):
        read += len(chunk)
        commands = []
        for number, line in chunk:
            if not line.strip():
                continue
            where = f"{name}:{number}"
            try:
                commands.append(client.check_command(json.loads(line), "command"))
            except json.JSONDecodeError as error:
                failures.add(where, f"not JSON: {error.msg} at column {error.colno}")
            except ValueError as error:
                failures.add(where, str(error))
        progress = (key, str(chunk[-1][0])) if key is not None else None
        # Checked and time-stamped above: the second check keeps each command as it is.
        client.send_commands(commands, progress=progress)
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
    except (ConfigError, ValueError) as error:
        print(f"ga-ee-bridge send: {error}", file=sys.stderr)
        return EXIT_USAGE
    failures = _Failures()
    spool = client.spool
    plan: list[tuple[str, Path | None, str | None, int]] = []
    total = client.queued  # left over in the spool by an earlier run: sent first
    for name in args.files:
        path = None if name == "-" else Path(name)
        key = _progress_key(path) if path is not None and spool is not None else None
        skip = int(spool.get_meta(key) or 0) if key is not None and spool is not None else 0
        if path is not None:
            total += max(0, _count_lines(path) - skip)
        plan.append((name, path, key, skip))
    quiet = args.quiet or args.progress is False
    bar = progress_bar(total=total, unit=" commands", quiet=quiet)
    try:
        for name, path, key, skip in plan:
            if path is None:
                _queue_file(client, "<stdin>", sys.stdin, None, 0, failures)
                continue
            if skip:
                print(f"{name}: resuming after line {skip}", file=sys.stderr)
            with path.open(encoding="utf-8") as stream:
                _queue_file(client, name, stream, key, skip, failures)
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
    finally:
        if bar is not None:
            bar.close()
    client.close(0)
    return _summary(client, failures)


def _update(bar: Any, client: Exponea, failures: _Failures) -> None:
    if bar is None:
        return
    stats = client.stats
    bar.n = stats.accepted + stats.failed + failures.count
    bar.set_postfix(failed=stats.failed + failures.count, retries=stats.retries, refresh=False)
    bar.refresh()


def _summary(client: Exponea, failures: _Failures) -> int:
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
    if client.spool is not None and stats.failed:
        print(f"ga-ee-bridge: dead letters kept in {client.spool.path}: see "
              f"'ga-ee-bridge spool list {client.spool.path}'", file=out)
    if failed == 0:
        return EXIT_OK
    return EXIT_PARTIAL if stats.accepted else EXIT_FAILURE

