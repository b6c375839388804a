"""``ga-ee-bridge convert``: dataLayer dumps to Tracking API commands or CSV, nothing lost."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from ga_ee_bridge import __version__
from ga_ee_bridge.cli._common import (
    COMMAND_HELP,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    add_quiet_option,
    examples,
    input_size,
    progress_bar,
)
from ga_ee_bridge.convert.api import kept_items
from ga_ee_bridge.convert.input import DumpError
from ga_ee_bridge.convert.json_stream import MAX_RECORD
from ga_ee_bridge.convert.links import LinkRule
from ga_ee_bridge.convert.options import DEFAULT_TIMESTAMP_PATHS, ConvertOptions, IdSpec
from ga_ee_bridge.convert.outputs import (
    AtomicFile,
    CommandsWriter,
    CsvWriter,
    RejectsWriter,
    format_summary,
    is_special_file,
    standard_output,
)
from ga_ee_bridge.convert.pushes import SOURCES
from ga_ee_bridge.convert.reasons import RejectReason
from ga_ee_bridge.convert.results import ConvertStats, Item, Reject
from ga_ee_bridge.convert.updates import UpdateSpec
from ga_ee_bridge.core.model import KINDS
from ga_ee_bridge.mappings import MAPPINGS
from ga_ee_bridge.readers.ga4 import EVENTS as GA4_EVENTS

if TYPE_CHECKING:
    from ga_ee_bridge.convert.summary import Observations

__all__ = ["KIND_ALIASES", "add_dump_options", "add_parser", "kind_of", "options_from_args",
           "run", "run_items"]

PROG = "ga-ee-bridge convert"
#: GA4 event names ``--kind`` accepts, each for the UA section it reads as.
KIND_ALIASES: dict[str, str] = {name: spec.kind for name, spec in GA4_EVENTS.items()
                                if name not in KINDS}


def kind_of(text: str) -> str:
    """``--kind``: a UA section name, or a GA4 event name for its section (view_item -> detail)."""
    if text == "all" or text in KINDS:
        return text
    if text in KIND_ALIASES:
        return KIND_ALIASES[text]
    import difflib  # here: only a misspelt kind needs it

    close = difflib.get_close_matches(text, [*KINDS, *KIND_ALIASES], n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise argparse.ArgumentTypeError(
        f"unknown kind {text!r}: use a section ({', '.join(KINDS)}) or a GA4 event name "
        f"({', '.join(KIND_ALIASES)}){hint}")


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
    parser.add_argument("--kind", default="all", type=kind_of, metavar="KIND",
                        help="convert only this ecommerce section: " + ", ".join(KINDS)
                        + " (default: all); a GA4 event name selects its section, for GA4 "
                        "input as for any other: " + ", ".join(
                            f"{name} -> {kind}" for name, kind in KIND_ALIASES.items()))
    parser.add_argument("--strict", action="store_true",
                        help="reject what lenient reading would repair ('$275.00', flat detail)")
    parser.add_argument("--event-alias", dest="event_aliases", action="append", default=[],
                        metavar="NAME=GA_EVENT",
                        help="read pushes whose event is NAME as GA_EVENT (dl_purchase=purchase, "
                        "for shops that rename events); repeatable")
    parser.add_argument("--max-record-size", type=int, default=MAX_RECORD, metavar="BYTES",
                        help="the longest line or push read (default 64 MiB); a longer one is "
                        "skipped and rejected (record too large)")
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
    parser.add_argument("--summary-json", metavar="FILE",
                        help="also write the counts as one JSON object: pushes, ecommerce, "
                        "skipped, unsupported, duplicates, rejected, events, rejects_by_reason, "
                        "warnings, inputs, seconds")
    add_quiet_option(parser)


def add_convert_only_options(parser: argparse.ArgumentParser) -> None:
    """Options that change what is written, so only ``convert`` has them."""
    parser.add_argument("--mapping", default="sdk", choices=tuple(MAPPINGS),
                        help="sdk: typed values (default); sdk-exact: what the web SDK sends; "
                        "bloomreach: Bloomreach's recommended events (view_item, cart_update, "
                        "checkout, purchase, purchase_item)")
    parser.add_argument("--tracked-via", metavar="TEXT",
                        help="the tracked_via property (default: the mapping's)")
    parser.add_argument("--keep-duplicates", action="store_true",
                        help="keep purchases whose transaction id was seen before")
    parser.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                        help="worker processes (default 1; 0: one per CPU); the output is the "
                        "same whatever N is")


def add_parser(subparsers: Any) -> None:
    """Register ``convert``."""
    parser = subparsers.add_parser(
        "convert", help=COMMAND_HELP["convert"],
        description="Convert dataLayer dumps into Exponea Tracking API commands (JSONL) or CSV "
        "files for Bloomreach's event import. Every push that cannot be converted goes to the "
        "rejects. Outputs appear only when complete (an interrupted run leaves none); missing "
        "directories are created. Exit status: 0 all converted, 3 some rejected, 2 usage "
        "error, 1 failure, 130 interrupted.",
        epilog=examples(
            ("ga-ee-bridge convert dump.json --id registered=user.email -o events.jsonl",
             "commands for 'send'; rejects in events.jsonl.rejects.jsonl"),
            ("ga-ee-bridge convert dumps/*.json.gz --format csv -o csv/ --report report.html",
             "one CSV per event type for the Imports UI, and a page to look at"),
            ("ga-ee-bridge convert ga4.json --kind view_item -o detail.jsonl",
             "only product detail views (GA4 view_item is the detail section)"),
            ("ga-ee-bridge convert big.jsonl -j 0 -q --summary-json summary.json",
             "one worker per CPU, no output on the terminal, counts as JSON"),
        ),
    )
    add_dump_options(parser)
    add_convert_only_options(parser)
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
    parser.add_argument("--report", metavar="FILE.html",
                        help="also write a page to look at: events per type per day, rejects "
                        "and warnings with examples, duplicates, customers")
    parser.set_defaults(run=run)


def usage_error(prog: str, message: str) -> int:
    """Print a usage error the argparse way; returns the usage exit status."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def options_from_args(args: argparse.Namespace) -> ConvertOptions:
    """:class:`ConvertOptions` from parsed arguments; ValueError says what is wrong."""
    if getattr(args, "jobs", 1) < 0:
        raise ValueError("--jobs must be 0 (one per CPU) or more")
    return ConvertOptions(
        kind=args.kind, mapping=getattr(args, "mapping", "sdk"),
        tracked_via=getattr(args, "tracked_via", None), strict=args.strict,
        ids=tuple(IdSpec.parse(text) for text in args.ids), timestamp=args.timestamp,
        no_timestamp_ok=args.no_timestamp_ok,
        keep_duplicates=getattr(args, "keep_duplicates", False),
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


def warn_empty(prog: str, inputs: list[str], stats: ConvertStats) -> None:
    """Warn about empty inputs, and when nothing at all was read."""
    empty = [path for path in inputs if input_size(path) == 0]
    for path in empty:
        print(f"{prog}: warning: {'standard input' if path == '-' else path} is empty",
              file=sys.stderr)
    if stats.pushes == 0 and not stats.rejected and not empty:
        print(f"{prog}: warning: no pushes found in the input", file=sys.stderr)


def jobs_count(jobs: int) -> int:
    """``--jobs``: 0 means one per CPU."""
    return (os.cpu_count() or 1) if jobs == 0 else jobs


def run_items(
    args: argparse.Namespace, options: ConvertOptions, encoder: str, stats: ConvertStats,
    handle: Callable[[Item], None],
) -> int:
    """Convert ``args.inputs``, handing every kept item to ``handle``; progress bar on a tty.

    The bar counts input bytes (compressed bytes for gzip) against the inputs' total size, with
    percentage and ETA; it counts pushes when a size is unknown (a pipe). Returns the exit status
    (0, 1 or 3); the summary is the caller's.
    """
    sizes = [input_size(path) for path in args.inputs]
    known = None not in sizes
    progress = progress_bar(total=sum(size or 0 for size in sizes) if known else None,
                            unit="B" if known else " pushes", quiet=args.quiet, bytes_=known)
    items: Iterator[list[Item]] = kept_items(
        args.inputs, options, encoder=encoder, jobs=jobs_count(getattr(args, "jobs", 1)),
        stats=stats,
    )
    seen = 0
    try:
        for batch in items:
            for item in batch:
                handle(item)
            if progress is not None:
                done = stats.bytes_read if known else stats.pushes
                progress.update(done - seen)
                seen = done
                progress.set_postfix_str(f"{stats.pushes:,} pushes", refresh=False)
    except DumpError as err:
        print(f"ga-ee-bridge: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as err:
        if not _is_broken_pool(err):
            raise
        print("ga-ee-bridge: a worker process died (out of memory?); run again with fewer "
              "--jobs", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if progress is not None:
            progress.close()
    return EXIT_PARTIAL if stats.rejected else EXIT_OK


def _is_broken_pool(err: BaseException) -> bool:
    """True for concurrent.futures' BrokenProcessPool (imported only when workers were used)."""
    process = sys.modules.get("concurrent.futures.process")
    return process is not None and isinstance(err, process.BrokenProcessPool)


def write_summary_json(path: str | None, stats: ConvertStats, inputs: list[str],
                       seconds: float) -> None:
    """``--summary-json FILE`` (``-``: standard output), written atomically."""
    if path is None:
        return
    from ga_ee_bridge.convert.summary import summary_record  # here: most runs write none

    text = json.dumps(summary_record(stats, inputs=inputs, seconds=seconds), indent=2,
                      ensure_ascii=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with AtomicFile(path) as out:
        out.stream.write(text)


def _report_target(output: str | None, args: argparse.Namespace) -> str | None:
    problems = [(name, value) for name, value in (("--report", args.report),
                ("--summary-json", args.summary_json), ("--rejects", args.rejects))
                if value not in (None, "-") and not is_special_file(value)]
    for name, value in problems:
        if output is not None and os.path.abspath(value) == os.path.abspath(output):
            return f"{name} must not be the --output file"
        if os.path.isdir(value):
            return f"{name} {value} is a directory; give a file name"
    return None


def default_rejects(output: str | None, args: argparse.Namespace) -> str | None:
    """Where rejects go: ``--rejects``, else beside the output (None: standard error).

    Output to standard output or to a special file (``/dev/null``) sends rejects to standard
    error: no sibling such as ``/dev/null.rejects.jsonl`` is made.
    """
    if args.rejects == "-":
        return None
    if args.rejects:
        return str(args.rejects)
    if output is None:
        return None
    if args.format == "csv":
        return os.path.join(output, "rejects.jsonl")
    if is_special_file(output):
        return None
    return output + ".rejects.jsonl"


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
    if args.format == "csv" and (is_special_file(output or "") or os.path.isfile(output or "")):
        return usage_error(PROG, f"--format csv writes into a directory: {output} is a file")
    if args.format == "commands" and output is not None and os.path.isdir(output):
        return usage_error(PROG, f"--output {output} is a directory; give a file name (or "
                           "--format csv for one file per event type in it)")
    problem = _report_target(output, args)
    if problem:
        return usage_error(PROG, problem)
    problem = check_inputs(PROG, args.inputs)
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return EXIT_FAILURE
    rejects_path = default_rejects(output, args)
    if rejects_path is not None and output is not None and (
        os.path.abspath(rejects_path) == os.path.abspath(output)
    ):
        return usage_error(PROG, "--rejects must not be the --output file")

    stats = ConvertStats()
    observations: Observations | None = None
    if args.report:
        from ga_ee_bridge.convert.summary import Observations  # here: most runs write no page

        observations = Observations()
    started = time.perf_counter()
    files: list[AtomicFile] = []
    writer: CommandsWriter | CsvWriter | None = None
    try:
        if args.format == "csv":
            assert output is not None
            writer = CsvWriter(output)
        else:
            if output is None:
                writer = CommandsWriter(standard_output())
            else:
                files.append(AtomicFile(output))
                writer = CommandsWriter(files[-1].stream)
        if rejects_path is not None:
            files.append(AtomicFile(rejects_path))
            rejects_stream: IO[str] = files[-1].stream
        else:
            rejects_stream = sys.stderr
        rejects = RejectsWriter(rejects_stream)
        write = writer.write
        write_reject = rejects.write
        encoder = writer.encoder
        loud = rejects_stream is not sys.stderr

        def handle(item: Item) -> None:
            if type(item) is Reject:
                write_reject(item)
                if loud and item.reason == RejectReason.NOT_A_DUMP:
                    print(f"{PROG}: {item.errors[0][1]}", file=sys.stderr)
            else:
                write(item)  # type: ignore[arg-type]
            if observations is not None:
                observations.item(item, encoder)

        status = run_items(args, options, encoder, stats, handle)
        written = writer.close()
        for file in files:
            file.commit()
        files.clear()
        seconds = time.perf_counter() - started
        write_summary_json(args.summary_json, stats, args.inputs, seconds)
        if args.report and observations is not None:
            from ga_ee_bridge.convert.report import render_report

            with AtomicFile(args.report) as page:
                page.stream.write(render_report(stats, observations, inputs=args.inputs,
                                                seconds=seconds,
                                                generator=f"ga-ee-bridge {__version__}"))
    except OSError as err:
        if isinstance(err, BrokenPipeError):
            raise
        where = f"{err.filename}: " if err.filename else ""
        print(f"{PROG}: cannot write: {where}{err.strerror or err}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        for file in files:
            file.discard()
        if isinstance(writer, CsvWriter):
            writer.discard()
    if not args.quiet:
        target: str | None = (output if args.format == "commands"
                              else (", ".join(written) or output))
        print(format_summary(stats, seconds, written=target,
                             rejects_to=rejects_path or "standard error"), file=sys.stderr)
    warn_empty(PROG, args.inputs, stats)
    return status
