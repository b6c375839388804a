"""``ga-ee-bridge convert``: dataLayer dumps to Tracking API commands or CSV, nothing lost."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import IO, Any

from ga_ee_bridge.cli._common import optional_tqdm
from ga_ee_bridge.convert.api import kept_items
from ga_ee_bridge.convert.input import DumpError
from ga_ee_bridge.convert.json_stream import MAX_RECORD
from ga_ee_bridge.convert.links import LinkRule
from ga_ee_bridge.convert.options import DEFAULT_TIMESTAMP_PATHS, ConvertOptions, IdSpec
from ga_ee_bridge.convert.outputs import CommandsWriter, CsvWriter, RejectsWriter, format_summary
from ga_ee_bridge.convert.pushes import SOURCES
from ga_ee_bridge.convert.results import ConvertStats, Item, Reject
from ga_ee_bridge.convert.updates import UpdateSpec
from ga_ee_bridge.core.model import KINDS
from ga_ee_bridge.mappings import MAPPINGS

__all__ = ["add_dump_options", "add_parser", "options_from_args", "run", "run_items"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
PROG = "ga-ee-bridge convert"


def add_dump_options(parser: argparse.ArgumentParser) -> None:
    """The reading and conversion options ``convert`` and ``validate`` share."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="dump files: JSON list, JSONL or {\"dataLayer\": [...]} object, "
                        "analytics.js commands, Measurement Protocol hits, BigQuery export "
                        "rows; gzip-compressed or not; '-' reads standard input")
    parser.add_argument("--source", default="auto", choices=("auto", *SOURCES),
                        help="the form of the data: auto (default: detected per file, then per "
                        "push), ua, ga4, gtag, gtm (classic GTM transactions; every push read as "
                        "that form), analyticsjs, mp, bq (every file read as that form)")
    parser.add_argument("--bq-customer-id", default="fullVisitorId", metavar="COLUMN[,COLUMN]",
                        help="BigQuery rows: the id column(s) tried in order, userId (-> "
                        "registered), clientId or fullVisitorId (-> cookie); default "
                        "fullVisitorId")
    parser.add_argument("--kind", default="all", choices=("all", *KINDS), metavar="KIND",
                        help="convert only this ecommerce section: " + ", ".join(KINDS)
                        + " (default: all)")
    parser.add_argument("--mapping", default="sdk", choices=tuple(MAPPINGS),
                        help="sdk: typed values (default); sdk-exact: what the web SDK sends; "
                        "bloomreach: Bloomreach's recommended events (view_item, cart_update, "
                        "checkout, purchase, purchase_item)")
    parser.add_argument("--tracked-via", metavar="TEXT",
                        help="the tracked_via property (default: the mapping's)")
    parser.add_argument("--strict", action="store_true",
                        help="reject what lenient reading would repair ('$275.00', flat detail)")
    parser.add_argument("--id", dest="ids", action="append", default=[], metavar="NAME=PATH",
                        help="customer id NAME from the dotted PATH in the data-model state "
                        "(registered=user.email), or NAME=:VALUE for a literal; repeatable")
    parser.add_argument("--link", dest="links", action="append", default=[],
                        metavar="'SELECTOR=EVENT_TYPE [JSON]'",
                        help="trackLink rule for GTM click pushes (gtm.linkClick, gtm.click): "
                        "#id, .class, a[href=\"...\"] (also ^= *= $=), * or a comma list; "
                        "repeatable, applied in order")
    parser.add_argument("--update", dest="updates", action="append", default=[],
                        metavar="PROPERTY=PATH",
                        help="customer property from the dotted PATH in the data-model state "
                        "(email=user.email), or PROPERTY=:VALUE; a customers command before the "
                        "customer's next event; repeatable")
    parser.add_argument("--timestamp", metavar="PATH",
                        help="state path of the time (default: the first of "
                        + ", ".join(DEFAULT_TIMESTAMP_PATHS) + ")")
    parser.add_argument("--no-timestamp-ok", action="store_true",
                        help="convert pushes without a timestamp (the server then uses its "
                        "receive time) instead of rejecting them")
    parser.add_argument("--keep-duplicates", action="store_true",
                        help="keep purchases whose transaction id was seen before")
    parser.add_argument("--event-alias", dest="event_aliases", action="append", default=[],
                        metavar="NAME=GA_EVENT",
                        help="read pushes whose event is NAME as GA_EVENT (dl_purchase=purchase, "
                        "for shops that rename events); repeatable")
    parser.add_argument("--max-record-size", type=int, default=MAX_RECORD, metavar="BYTES",
                        help="the longest line or push read (default 64 MiB); a longer one is "
                        "skipped and rejected (record too large)")
    parser.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                        help="worker processes (default 1; 0: one per CPU); the output is the "
                        "same whatever N is")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bar, no summary")


def add_parser(subparsers: Any) -> None:
    """Register ``convert``."""
    parser = subparsers.add_parser(
        "convert", help="convert dataLayer dumps to Exponea commands (JSONL) or CSV",
        description="Convert dataLayer dumps into Exponea Tracking API commands (JSONL) or CSV "
        "files for Bloomreach's event import. Every push that cannot be converted goes to the "
        "rejects. Exit status: 0 all converted, 3 some rejected, 2 usage error, 1 failure.",
    )
    add_dump_options(parser)
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="output file (commands; default standard output) or directory "
                        "(csv, required)")
    parser.add_argument("--format", default="commands", choices=("commands", "csv"),
                        help="commands: one Tracking API batch command a line (default); "
                        "csv: one CSV per event type in the --output directory")
    parser.add_argument("--rejects", metavar="FILE",
                        help="JSONL of rejected pushes (default OUTPUT.rejects.jsonl, "
                        "DIR/rejects.jsonl for csv, standard error with standard output; "
                        "'-' for standard error)")
    parser.set_defaults(run=run)


def usage_error(prog: str, message: str) -> int:
    """Print a usage error the argparse way; returns the usage exit status."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def options_from_args(args: argparse.Namespace) -> ConvertOptions:
    """:class:`ConvertOptions` from parsed arguments; ValueError says what is wrong."""
    if args.jobs < 0:
        raise ValueError("--jobs must be 0 (one per CPU) or more")
    return ConvertOptions(
        kind=args.kind, mapping=args.mapping, tracked_via=args.tracked_via, strict=args.strict,
        ids=tuple(IdSpec.parse(text) for text in args.ids), timestamp=args.timestamp,
        no_timestamp_ok=args.no_timestamp_ok, keep_duplicates=args.keep_duplicates,
        source=args.source, links=tuple(LinkRule.parse(text) for text in args.links),
        updates=tuple(UpdateSpec.parse(text) for text in args.updates),
        bq_customer_id=tuple(name.strip() for name in args.bq_customer_id.split(",")),
        event_aliases=tuple(args.event_aliases), max_record_size=args.max_record_size,
    )


def check_inputs(prog: str, inputs: list[str]) -> str | None:
    """A message for the first input that cannot be read (before any output is written)."""
    if inputs.count("-") > 1:
        return "'-' (standard input) can be given only once"
    for path in inputs:
        if path != "-" and not os.access(path, os.R_OK):
            why = "no such file" if not os.path.exists(path) else "not readable"
            return f"cannot read {path}: {why}; check the path"
        if path != "-" and os.path.isdir(path):
            return f"cannot read {path}: it is a directory; give the dump files in it"
    return None


def jobs_count(jobs: int) -> int:
    """``--jobs``: 0 means one per CPU."""
    return (os.cpu_count() or 1) if jobs == 0 else jobs


def run_items(
    args: argparse.Namespace, options: ConvertOptions, encoder: str, stats: ConvertStats,
    handle: Callable[[Item], None],
) -> int:
    """Convert ``args.inputs``, handing every kept item to ``handle``; progress bar on a tty.

    Returns the exit status (0, 1 or 3); the summary is the caller's.
    """
    progress = None
    tqdm = optional_tqdm() if not args.quiet and sys.stderr.isatty() else None
    if tqdm is not None:
        tqdm.monitor_interval = 0  # no monitor thread: workers are forked
        progress = tqdm(unit=" pushes", unit_scale=True, file=sys.stderr, leave=False)
    items: Iterator[list[Item]] = kept_items(
        args.inputs, options, encoder=encoder, jobs=jobs_count(args.jobs), stats=stats
    )
    seen = 0
    try:
        for batch in items:
            for item in batch:
                handle(item)
            if progress is not None:
                progress.update(stats.pushes - seen)
                seen = stats.pushes
    except DumpError as err:
        print(f"ga-ee-bridge: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenProcessPool:
        print("ga-ee-bridge: a worker process died (out of memory?); run again with fewer "
              "--jobs", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if progress is not None:
            progress.close()
    return EXIT_PARTIAL if stats.rejected else EXIT_OK


def _open_text(path: str) -> IO[str]:
    return open(path, "w", encoding="utf-8", newline="")


def run(args: argparse.Namespace) -> int:
    """Run ``convert``; returns the exit status."""
    try:
        options = options_from_args(args)
    except ValueError as err:
        return usage_error(PROG, str(err))
    output = None if args.output in (None, "-") else args.output
    if args.format == "csv" and output is None:
        return usage_error(PROG, "--format csv writes one file per event type: give the "
                           "directory with --output DIR")
    problem = check_inputs(PROG, args.inputs)
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return EXIT_FAILURE
    if args.rejects == "-":
        rejects_path = None
    elif args.rejects:
        rejects_path = args.rejects
    elif output is None:
        rejects_path = None
    elif args.format == "csv":
        rejects_path = os.path.join(output, "rejects.jsonl")
    else:
        rejects_path = output + ".rejects.jsonl"

    if rejects_path is not None and output is not None and (
        os.path.abspath(rejects_path) == os.path.abspath(output)
    ):
        return usage_error(PROG, "--rejects must not be the --output file")

    stats = ConvertStats()
    started = time.perf_counter()
    opened: list[IO[str]] = []
    try:
        writer: CommandsWriter | CsvWriter
        if args.format == "csv":
            assert output is not None
            writer = CsvWriter(output)
        else:
            out = sys.stdout if output is None else _open_text(output)
            if output is not None:
                opened.append(out)
            writer = CommandsWriter(out)
        if rejects_path is not None:
            os.makedirs(os.path.dirname(rejects_path) or ".", exist_ok=True)
            rejects_stream = _open_text(rejects_path)
            opened.append(rejects_stream)
        else:
            rejects_stream = sys.stderr
        rejects = RejectsWriter(rejects_stream)
        write = writer.write
        write_reject = rejects.write

        def handle(item: Item) -> None:
            if type(item) is Reject:
                write_reject(item)
            else:
                write(item)  # type: ignore[arg-type]

        status = run_items(args, options, writer.encoder, stats, handle)
        written = writer.close()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, with a failure status.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
    except OSError as err:
        print(f"{PROG}: cannot write: {err}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        for stream in opened:
            stream.close()
    if not args.quiet:
        where = output if args.format == "commands" else (", ".join(written) or output)
        print(format_summary(stats, time.perf_counter() - started, written=where,
                             rejects_to=rejects_path or "standard error"), file=sys.stderr)
    return status
