"""``ga-ee-bridge validate``: read dumps as ``convert`` does and report every problem."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ga_ee_bridge.cli._common import COMMAND_HELP, EXIT_FAILURE, examples
from ga_ee_bridge.cli.convert import (
    add_dump_options,
    check_inputs,
    options_from_args,
    run_items,
    usage_error,
    warn_empty,
    write_summary_json,
)
from ga_ee_bridge.convert.outputs import format_summary
from ga_ee_bridge.convert.results import ConvertStats, Item, Reject

__all__ = ["add_parser", "run"]

PROG = "ga-ee-bridge validate"


def add_parser(subparsers: Any) -> None:
    """Register ``validate``."""
    parser = subparsers.add_parser(
        "validate", help=COMMAND_HELP["validate"],
        description="Read dumps exactly as 'convert' does, write nothing, and report every "
        "problem on standard output as 'file:line path: message'. Exit status: 0 no problem, "
        "3 problems found, 2 usage error, 1 failure, 130 interrupted. It has the reading "
        "options of 'convert' only: what is written (mapping, duplicates) changes no problem.",
        epilog=examples(
            ("ga-ee-bridge validate dump.json --id registered=user.email",
             "every problem, with the customer ids convert would use"),
            ("ga-ee-bridge validate dumps/*.json.gz -q | sort | uniq -c",
             "problems only, no summary, counted"),
            ("ga-ee-bridge validate export.jsonl --summary-json summary.json",
             "the counts as JSON too"),
        ),
    )
    add_dump_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``validate``; returns the exit status."""
    try:
        options = options_from_args(args)
    except ValueError as err:
        return usage_error(PROG, str(err))
    problem = check_inputs(PROG, args.inputs)
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return EXIT_FAILURE
    stats = ConvertStats()
    started = time.perf_counter()
    out = sys.stdout

    def handle(item: Item) -> None:
        if type(item) is Reject:
            for line in item.report_lines():
                out.write(f"{line} [{item.reason}]\n")

    status = run_items(args, options, "none", stats, handle)
    for path, count in stats.dropped.most_common():
        out.write(f"{stats.dropped_first[path]} {path}: warning: not an Enhanced Ecommerce "
                  f"field, left out ({count:,} push{'es' if count > 1 else ''}; the first "
                  "here)\n")
    for kind, count in stats.warnings.most_common():
        out.write(f"{stats.warnings_first[kind]} (warning: left out, the event kept; "
                  f"{count:,} like it, the first here)\n")
    for name, count in sorted(stats.not_for_analytics.items()):
        out.write(f"{stats.not_for_analytics_first[name]}: warning: gtag.js {name} is sent "
                  f"to other products only (send_to), not Analytics: skipped ({count:,} "
                  f"event{'s' if count > 1 else ''}; the first here)\n")
    for name, count in sorted(stats.unsupported.items()):
        out.write(f"{stats.unsupported_first[name]}: warning: {name} has no UA Enhanced "
                  f"Ecommerce counterpart, skipped ({count:,} event{'s' if count > 1 else ''}"
                  "; the first here)\n")
    out.flush()
    seconds = time.perf_counter() - started
    write_summary_json(args.summary_json, stats, args.inputs, seconds)
    if not args.quiet:
        print(format_summary(stats, seconds), file=sys.stderr)
    warn_empty(PROG, args.inputs, stats)
    return status
