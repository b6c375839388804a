"""``ga-ee-bridge spool list|retry|export PATH``: inspect and handle a spool's dead letters.

``list`` shows how many commands wait and the dead letters with their reasons; ``retry`` puts dead
letters back (all, or the given ids) and, when a project token is configured, sends them now;
``export`` writes dead letters as JSON lines (plain commands that ``send`` accepts, or with
``--details`` the reason and time too).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from ga_ee_bridge.cli import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from ga_ee_bridge.cli._common import COMMAND_HELP, examples, reason_text
from ga_ee_bridge.cli._connection import (
    ConfigError,
    add_connection_arguments,
    client_from_args,
    has_connection,
)
from ga_ee_bridge.convert.outputs import AtomicFile
from ga_ee_bridge.convert.sniff import looks_like
from ga_ee_bridge.send.spool import DeadLetter, Spool, SpoolError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``spool`` with its ``list``, ``retry`` and ``export`` actions."""
    parser = subparsers.add_parser(
        "spool", help=COMMAND_HELP["spool"],
        description=__doc__, epilog=examples(*_EXAMPLES))
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    spool_help = "the spool file given to 'send --spool' (SQLite)"

    listing = actions.add_parser("list", help="counts and dead letters",
                                 description="How many commands wait in the spool, and each "
                                 "dead letter: id, time, event type, status and reason.",
                                 epilog=examples(_EXAMPLES[0]))
    listing.add_argument("path", metavar="SPOOL", help=spool_help)
    listing.add_argument("--json", action="store_true", help="one JSON object per dead letter")

    retry = actions.add_parser("retry", help="put dead letters back and send them",
                               description="Put dead letters back in the queue (all, or the "
                               "ids given) and send them when a project token is configured.",
                               epilog=examples(_EXAMPLES[1]))
    retry.add_argument("path", metavar="SPOOL", help=spool_help)
    retry.add_argument("ids", nargs="*", type=int, metavar="ID", help="default: all")
    add_connection_arguments(retry)

    export = actions.add_parser("export", help="write dead letters as JSON lines",
                                description="Write dead letters as JSON lines: commands that "
                                "'send' accepts, or with --details the reason and time too.",
                                epilog=examples(_EXAMPLES[2]))
    export.add_argument("path", metavar="SPOOL", help=spool_help)
    export.add_argument("ids", nargs="*", type=int, metavar="ID", help="default: all")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="default: standard output (written atomically; missing "
                        "directories are created)")
    export.add_argument("--details", action="store_true",
                        help="write {id, failed_at, status, reason, command} records")
    parser.set_defaults(run=run)


_EXAMPLES = (
    ("ga-ee-bridge spool list send.db", "what waits, and why each dead letter was refused"),
    ("ga-ee-bridge spool retry send.db 12 13", "send dead letters 12 and 13 again"),
    ("ga-ee-bridge spool export send.db -o refused.jsonl",
     "the refused commands, to fix and 'send' again"),
)
_SQLITE = b"SQLite format 3\x00"


def not_a_spool(path: Path) -> str | None:
    """Why ``path`` cannot be a spool (missing, a directory, another kind of file), or None."""
    if path.is_dir():
        return f"{path} is a directory, not a spool: give the spool file ('send --spool FILE')"
    if not path.exists():
        return f"no such spool: {path}"
    with path.open("rb") as stream:
        head = stream.read(1 << 12)
    if head and not head.startswith(_SQLITE):
        return f"{path} is not a spool: it looks like {looks_like(head)}"
    return None


def run(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    problem = not_a_spool(Path(args.path))
    if problem:
        print(f"ga-ee-bridge spool {args.action}: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    action = {"list": _list, "retry": _retry, "export": _export}[args.action]
    try:
        return action(args)
    except SpoolError as error:
        print(f"ga-ee-bridge spool: {error}", file=sys.stderr)
        return EXIT_FAILURE


def _describe(letter: DeadLetter) -> str:
    data = letter.command.get("data") or {}
    what = (data.get("event_type") if isinstance(data, dict) else None) or letter.command.get(
        "name") or f"unreadable line {letter.command.get('source', '')}".rstrip()
    when = dt.datetime.fromtimestamp(letter.failed_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    status = f"HTTP {letter.status}" if letter.status else "rejected"
    return f"{letter.id}\t{when}\t{what}\t{status}: {reason_text(letter.reason)}"


def _list(args: argparse.Namespace) -> int:
    spool = Spool(args.path)
    try:
        letters = spool.dead_letters()
        if args.json:
            for letter in letters:
                print(json.dumps(letter.to_dict(), ensure_ascii=False))
            return EXIT_OK
        counts = spool.counts()
        print(f"{counts['pending']} pending, {counts['dead']} dead letter(s)")
        for letter in letters:
            print(_describe(letter))
        return EXIT_OK
    finally:
        spool.close()


def _export(args: argparse.Namespace) -> int:
    spool = Spool(args.path)
    try:
        letters = spool.dead_letters(args.ids or None)
    finally:
        spool.close()
    target = AtomicFile(args.output) if args.output and args.output != "-" else None
    out = target.stream if target is not None else sys.stdout
    try:
        for letter in letters:
            record = letter.to_dict() if args.details else dict(letter.command)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    except BaseException:
        if target is not None:
            target.discard()
        raise
    if target is not None:
        target.commit()
    print(f"exported {len(letters)} dead letter(s)", file=sys.stderr)
    return EXIT_OK


def _retry(args: argparse.Namespace) -> int:
    spool = Spool(args.path)
    try:
        count = spool.retry(args.ids or None)
    finally:
        spool.close()
    print(f"{count} dead letter(s) put back", file=sys.stderr)
    if not has_connection(args):
        print("no project token configured: they go out with the next client using this spool",
              file=sys.stderr)
        return EXIT_OK
    try:
        client = client_from_args(args, spool=args.path, exit_timeout=0.0)
    except (ConfigError, ValueError) as error:
        print(f"ga-ee-bridge spool: {error}", file=sys.stderr)
        return EXIT_USAGE
    client.flush()
    client.close(0)
    stats = client.stats
    print(f"ga-ee-bridge: sent: {stats.accepted} accepted, {stats.failed} failed",
          file=sys.stderr)
    for reason, n in stats.failures.most_common(10):
        print(f"ga-ee-bridge:   {n} x {reason_text(reason)}", file=sys.stderr)
    if stats.failed == 0:
        return EXIT_OK
    return EXIT_PARTIAL if stats.accepted else EXIT_FAILURE
