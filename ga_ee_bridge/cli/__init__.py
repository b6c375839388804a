"""The ``ga-ee-bridge`` command line: a module per subcommand, with ``add_parser`` and ``run``.

No command ends in a traceback: usage errors show the subcommand's usage (with a "did you mean"),
a closed standard output (``| head``) ends quietly, Ctrl-C exits 130, and anything unexpected is
one line naming the error (``GA_EE_BRIDGE_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
from collections.abc import Collection, Sequence

from ga_ee_bridge import __version__
from ga_ee_bridge.cli._common import (
    COMMAND_HELP,
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    Parser,
    examples,
    subcommand,
)
from ga_ee_bridge.errors import GaEeBridgeError

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL",
           "EXIT_USAGE", "build_parser", "main"]

# Subcommand modules under ga_ee_bridge.cli, each with add_parser(subparsers) and run(args) -> int.
COMMANDS: tuple[str, ...] = tuple(COMMAND_HELP)

_log = logging.getLogger("ga_ee_bridge.cli")


def build_parser(commands: Collection[str] = COMMANDS) -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand registered.

    Only the ``commands`` given (default: all) get their options; the others are their line in
    ``--help`` only, so their modules (and httpx, SQLite, the converter) are not imported. That is
    what :func:`main` does: a run parses one subcommand, or none (help, version, a misspelt one).
    """
    parser = Parser(
        prog="ga-ee-bridge",
        description="Turn Google Analytics Enhanced Ecommerce data into Exponea (Bloomreach "
        "Engagement) tracking: convert dataLayer dumps to Tracking API commands or CSV, check "
        "them, send them. 'ga-ee-bridge COMMAND --help' shows each command's options.",
        epilog=examples(
            ("ga-ee-bridge convert dump.json -o events.jsonl --report report.html",
             "convert a dump; rejects in events.jsonl.rejects.jsonl, a page to look at"),
            ("ga-ee-bridge validate dump.json",
             "list every problem as file:line path: message, write nothing"),
            ("ga-ee-bridge send events.jsonl --spool send.db",
             "send converted commands; run it again to resume"),
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if name in commands:
            module = importlib.import_module(f"ga_ee_bridge.cli.{name}")
            module.add_parser(sub)
        else:
            sub.add_parser(name, help=COMMAND_HELP[name])
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` runs: its first word that is no option (the top-level options
    take no value), when it names one; else None (help, version, a misspelt command: argparse
    then stops at the top level, where every subcommand's help line is all it shows)."""
    for word in argv:
        if word == "--":
            continue
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _startup_parser(commands: Collection[str], *, own_process: bool) -> argparse.ArgumentParser:
    """:func:`build_parser` with the garbage collector paused while it imports the subcommand.

    Imports create thousands of objects that live as long as the process, and the collector
    would scan them again every few hundred allocations. In the command's own process (``main()``
    without arguments) they then move to the permanent generation (``gc.freeze``), so later
    collections, and the full one at exit, skip them; called from Python, nothing is frozen.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return build_parser(commands)
    finally:
        if own_process:
            gc.freeze()
        if enabled:
            gc.enable()


def _quiet_stdout() -> None:
    """Point standard output at /dev/null so the exit-time flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args, extra = parser.parse_known_args(argv)
    if extra:
        subcommand(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _interrupted(err: BaseException) -> bool:
    """Whether ``err`` was raised while a KeyboardInterrupt was being handled (its context)."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__context__
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage, 3 partial,
    130 interrupted, 141 standard output closed)."""
    command = "ga-ee-bridge"
    try:
        chosen = chosen_command(sys.argv[1:] if argv is None else argv)
        parser = _startup_parser(() if chosen is None else (chosen,), own_process=argv is None)
        try:
            args = _parse(parser, argv)
        except SystemExit as done:
            return done.code if isinstance(done.code, int) else EXIT_USAGE
        run = getattr(args, "run", None)
        if run is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        command = subcommand(parser, args).prog
        return int(run(args))
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except GaEeBridgeError as err:
        print(f"{command}: error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"{command}: error: {where}{err.strerror or err}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as err:  # the promise: one line, never a traceback
        if _interrupted(err):  # Ctrl-C, and a library's clean-up failed on the way out
            print(f"{command}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        sqlite3 = sys.modules.get("sqlite3")  # imported only by a command with a spool
        if sqlite3 is not None and isinstance(err, sqlite3.DatabaseError):
            print(f"{command}: error: the spool cannot be used: {err}", file=sys.stderr)
            return EXIT_FAILURE
        if os.environ.get("GA_EE_BRIDGE_DEBUG"):
            raise
        _log.debug("unexpected error", exc_info=True)
        print(f"{command}: internal error: {type(err).__name__}: {err} (please report it; "
              "GA_EE_BRIDGE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_FAILURE
