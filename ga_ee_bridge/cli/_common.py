"""What every subcommand shares: exit statuses, help layout, usage errors, the progress bar."""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
import textwrap
from typing import IO, Any, NoReturn

__all__ = ["COMMAND_HELP", "EXIT_BROKEN_PIPE", "EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK",
           "EXIT_PARTIAL", "EXIT_USAGE", "Parser", "add_quiet_option", "examples", "input_size",
           "optional_tqdm", "progress_bar", "reason_text", "subcommand"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
#: The reader of standard output went away (``| head``): the status of a process SIGPIPE killed.
EXIT_BROKEN_PIPE = 128 + 13
EXIT_INTERRUPTED = 130

#: Each subcommand's line in ``ga-ee-bridge --help``, in that order. Kept here, not only in the
#: subcommand's module, so the list can be shown without importing the modules (and what they
#: import) of the commands that do not run.
COMMAND_HELP: dict[str, str] = {
    "convert": "convert dataLayer dumps to Exponea commands (JSONL) or CSV",
    "validate": "check dataLayer dumps: every problem as file:line path: message",
    "send": "send Tracking API commands (JSON lines) to Exponea",
    "spool": "list, retry or export the dead letters of a spool",
}

_BACKTICKS = re.compile(r"``([^`]+)``")
_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (.*)$")


class HelpFormatter(argparse.HelpFormatter):
    """Fills prose paragraphs, keeps indented lines (examples) as written, drops RST backticks."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        text = _BACKTICKS.sub(r"'\1'", textwrap.dedent(text)).strip("\n")
        out: list[str] = []
        for paragraph in re.split(r"\n\s*\n", text):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):
                out.append("\n".join(indent + line for line in lines))
            else:
                out.append(textwrap.fill(" ".join(line.strip() for line in lines), width,
                                         initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(out)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        return None if text is None else _BACKTICKS.sub(r"'\1'", text)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors show this (sub)command's usage and a "did you mean"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def suggestion(self, message: str) -> str:
        """`` (did you mean ...?)`` for a misspelt option or choice in ``message``, or ''."""
        import difflib  # here: only a usage error needs it

        choice = _CHOICE.search(message)
        if choice:
            names = re.findall(r"'([^']*)'", choice.group(2))
            close = difflib.get_close_matches(choice.group(1), names, n=1, cutoff=0.5)
            return f"; did you mean '{close[0]}'?" if close else ""
        unknown = _UNRECOGNIZED.search(message)
        if unknown:
            options = [name for action in self._actions for name in action.option_strings
                       if action.help is not argparse.SUPPRESS]
            for word in unknown.group(1).split():
                if word.startswith("-"):
                    close = difflib.get_close_matches(word.split("=", 1)[0], options, n=1,
                                                      cutoff=0.6)
                    if close:
                        return f"; did you mean '{close[0]}'?"
        return ""

    def error(self, message: str) -> NoReturn:
        """Usage line, then ``PROG: error: MESSAGE``, then where the help is; exit status 2."""
        self.print_usage(sys.stderr)
        hint = self.suggestion(message)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}{hint}\n"
                              f"(see '{self.prog} --help')\n")


def subcommand(parser: argparse.ArgumentParser, args: argparse.Namespace
               ) -> argparse.ArgumentParser:
    """The deepest (sub)parser ``args`` were parsed by: ``spool list``'s for ``spool list X``."""
    while True:
        found = None
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                name = getattr(args, action.dest, None)
                found = action.choices.get(name) if name else None
        if found is None:
            return parser
        parser = found


def examples(*pairs: tuple[str, str]) -> str:
    """The ``Examples:`` epilog of a help page: ``(command, what it does)`` pairs."""
    body = "\n".join(f"  {command}\n      {what}" for command, what in pairs)
    return f"Examples:\n{body}"


def add_quiet_option(parser: argparse.ArgumentParser, what: str = "no progress bar, no summary"
                     ) -> None:
    """``--quiet`` / ``-q``, the same name in every subcommand."""
    parser.add_argument("--quiet", "-q", action="store_true", help=what)


def optional_tqdm() -> Any:
    """The ``tqdm`` class when the ``cli`` extra is installed, else None (no progress bar)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


def input_size(path: str) -> int | None:
    """The byte size of an input (``-``: standard input when it is a regular file), else None."""
    try:
        info = os.fstat(sys.stdin.fileno()) if path == "-" else os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


_BAR = ("{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} "
        "[{elapsed}<{remaining}, {rate_fmt}{postfix}]")


def progress_bar(*, total: float | None, unit: str, quiet: bool, stream: IO[str] | None = None,
                 bytes_: bool = False) -> Any:
    """A tqdm bar on a terminal (None when quiet, not a terminal, or tqdm is missing).

    With a ``total`` it shows percentage, count of total and ETA; ``bytes_`` counts in KiB/MiB.
    """
    out = stream if stream is not None else sys.stderr
    if quiet or not out.isatty():
        return None
    tqdm = optional_tqdm()
    if tqdm is None:
        return None
    tqdm.monitor_interval = 0  # no monitor thread: converter workers are forked
    options: dict[str, Any] = {"total": total, "unit": unit, "file": out, "leave": False,
                               "dynamic_ncols": True}
    try:
        size = os.get_terminal_size(out.fileno())
    except (OSError, ValueError, AttributeError):
        size = os.terminal_size((0, 0))
    if not size.columns or not size.lines:  # a terminal that tells no size: tqdm shows nothing
        options.update(dynamic_ncols=False, ncols=size.columns or 80, nrows=size.lines or 24)
    if bytes_:
        options.update(unit_scale=True, unit_divisor=1024)
    if total:
        options["bar_format"] = _BAR
    return tqdm(**options)


def reason_text(reason: str) -> str:
    """A server's reason as text: ``["price too high"]`` (a JSON list, as sent) -> ``price too
    high``; other text as it is."""
    if reason.startswith(("[", '"')):
        try:
            value = json.loads(reason)
        except ValueError:
            return reason
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return "; ".join(value)
    return reason
