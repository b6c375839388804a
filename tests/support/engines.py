"""What the engine tests share: the CLI's own output, and an engine's group-by + keep_first."""

import json

from ga_ee_bridge.convert.api import kept_items
from ga_ee_bridge.convert.engine import keep_first
from ga_ee_bridge.convert.options import ConvertOptions, IdSpec
from ga_ee_bridge.convert.results import ConvertStats, Reject, Segment
from support import REPO

DUMPS = REPO / "fixtures" / "dumps"
GA360 = REPO / "fixtures" / "bigquery" / "ga360-two-days.jsonl"
#: The options both engines are compared with the CLI under (dumps; GA360 rows).
OPTIONS = ConvertOptions(ids=(IdSpec.parse("registered=user.email"),))
GA360_OPTIONS = ConvertOptions(bq_customer_id=("userId", "clientId", "fullVisitorId"))
#: Every shipped dump (each converts on its own to ``fixtures/dumps/expected`` or rejects).
DUMP_FILES = sorted(path for path in DUMPS.iterdir() if path.is_file())
INTEGER_COLUMNS = frozenset({"visitId", "visitStartTime", "visitNumber", "hitNumber", "time",
                             "hits", "visits", "transactionRevenue", "transactionTax",
                             "transactionShipping", "productPrice", "localProductPrice",
                             "productQuantity", "productRevenue", "productListPosition", "step",
                             "action_type", "refundAmount", "localRefundAmount", "pageviews",
                             "transactions"})


def key(value):
    """A dict as sortable text (comparing commands and rejects in no order)."""
    return json.dumps(value, sort_keys=True)


def cli_output(paths, options, stats=None):
    """``ga-ee-bridge convert``'s commands and rejects records (the library path it runs)."""
    commands, rejects = [], []
    for batch in kept_items([str(path) for path in paths], options, encoder="dict", stats=stats):
        for item in batch:
            if isinstance(item, Segment):
                commands += [command for _, command in item.events]
            elif isinstance(item, Reject):
                rejects.append(item.to_json())
    return commands, rejects


def engine_output(results):
    """What an engine does after converting: a group-by on the purchase key, keep_first."""
    purchases, out, duplicates = {}, [], 0
    for result in results:
        if result.kind == "command" and result.transaction is not None:
            purchases.setdefault(result.transaction, []).append(result)
        else:
            out.append(result)
    for group in purchases.values():
        kept, dropped = keep_first(group)
        out += kept
        duplicates += dropped
    out.sort(key=lambda result: result.order)
    return ([r.value for r in out if r.kind == "command"],
            [r.value for r in out if r.kind == "reject"], duplicates)


def ga360_rows(path=GA360):
    """The rows of a ``ga_sessions_*`` JSON export."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def as_bigquery_types(row):
    """A row as ``ReadFromBigQuery`` yields it: INTEGER columns as ints (the export has text)."""
    def walk(value, name=""):
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, name) for v in value]
        if isinstance(value, str) and name in INTEGER_COLUMNS and value.lstrip("-").isdigit():
            return int(value)
        return value
    return walk(row)


def unplaced(rejects):
    """Rejects without ``input`` and ``line`` (a BigQuery row has neither), sorted."""
    return sorted(key({**r, "input": None, "line": None}) for r in rejects)


__all__ = ["DUMPS", "DUMP_FILES", "GA360", "ConvertStats", "as_bigquery_types", "cli_output",
           "engine_output", "ga360_rows", "key", "unplaced"]
