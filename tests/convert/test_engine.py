"""The pure engine API: whole pages, keyed results, order-free stats, plain pickle everywhere."""

import gzip
import io
import json
import multiprocessing
import pickle
import random
from concurrent.futures import ProcessPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import REPO
from support.engine_mapping import Shouting
from support.engines import (
    GA360,
    as_bigquery_types,
    cli_output,
    engine_output,
    ga360_rows,
    key,
    unplaced,
)

from ga_ee_bridge.convert.encoders import ENCODERS, dumps
from ga_ee_bridge.convert.engine import (
    Page,
    Result,
    convert_page,
    convert_session,
    keep_first,
    session_key,
    split_pages,
)
from ga_ee_bridge.convert.options import ConvertOptions, IdSpec
from ga_ee_bridge.convert.records import UNDECODED
from ga_ee_bridge.convert.results import ConvertStats, Reject
from ga_ee_bridge.readers import ga4, gtag
from ga_ee_bridge.readers._events import event_schema, item_schema
from ga_ee_bridge.readers.bigquery import _row_schema

DUMPS = REPO / "fixtures" / "dumps"
OPTIONS = ConvertOptions(ids=(IdSpec.parse("registered=user.email"),))
T0 = 1_709_294_400


def pages_of(data, source_id, options=OPTIONS, **extra):
    results = []
    for page in split_pages(data, source_id=source_id, options=options, **extra):
        if isinstance(page, Reject):
            results.append(Result("reject", page.to_json(), None, (source_id, 0, -1, "", 0)))
        else:
            results.append(page)
    return results


def convert_all(pages, options=OPTIONS):
    out = []
    for page in pages:
        out += [page] if isinstance(page, Result) else convert_page(page, options)
    return out


@pytest.mark.parametrize("name", sorted(path.name for path in DUMPS.iterdir() if path.is_file()))
@pytest.mark.parametrize("page_records", [1, 7, 1000])
def test_every_shipped_dump_gives_the_cli_output_however_it_is_bundled(name, page_records):
    path = DUMPS / name
    commands, rejects = cli_output([path], OPTIONS)
    pages = pages_of(path.open("rb"), str(path), page_records=page_records)
    random.Random(page_records).shuffle(pages)  # workers finish in any order
    got_commands, got_rejects, _ = engine_output(convert_all(pages))
    assert got_commands == commands  # the order key puts them back in input order
    assert got_rejects == rejects


def plain_pushes():
    pushes = []
    for page in range(4):
        pushes.append({"event": "gtm.js", "gtm.start": (T0 + page * 60) * 1000})
        pushes.append({"ecommerce": {"detail": {"products": [{"id": f"P{page}"}]}}})
        pushes.append({"event": "scroll"})
        pushes.append({"ecommerce": {"add": {"products": [{"id": f"P{page}", "quantity": 1}]}}})
    return pushes


def test_a_page_is_never_cut_even_one_record_a_page():
    pushes = plain_pushes()
    pages = pages_of(pushes, "mem://pushes", page_records=1)
    assert [len(page.records) for page in pages] == [4, 4, 4, 4]
    # Cutting plain pushes at line boundaries instead loses the time of the page's later pushes.
    commands, _, _ = engine_output(convert_all(pages))
    assert [int(c["data"]["timestamp"]) for c in commands] == [T0, T0, T0 + 60, T0 + 60, T0 + 120,
                                                               T0 + 120, T0 + 180, T0 + 180]
    cookies = [c["data"]["customer_ids"]["cookie"] for c in commands]
    assert cookies[0::2] == cookies[1::2] and len(set(cookies)) == 4


def test_lines_bytes_dicts_streams_and_gzip_give_the_same_results():
    pushes = plain_pushes()
    text = "".join(json.dumps(push) + "\n" for push in pushes)
    forms = [pushes, text.splitlines(), [line.encode() for line in text.splitlines(True)],
             text.encode(), io.BytesIO(text.encode()), gzip.compress(text.encode())]
    outputs = [engine_output(convert_all(pages_of(form, "s3://b/x.jsonl"))) for form in forms]
    assert all(output == outputs[0] for output in outputs)
    assert len(outputs[0][0]) == 8


def test_customers_do_not_depend_on_the_source_id():
    pushes = plain_pushes()
    one = engine_output(convert_all(pages_of(pushes, "gs://a/day1.jsonl")))[0]
    other = engine_output(convert_all(pages_of(pushes, "file:///tmp/renamed")))[0]
    assert one == other
    assert len({c["data"]["customer_ids"]["cookie"] for c in one}) == 4


def test_a_reject_names_its_source_id():
    pages = pages_of([b'{"event": "gtm.js", "gtm.start": 1}', b"{broken"], "bq://p.d.t")
    _, rejects, _ = engine_output(convert_all(pages))
    assert [(r["input"], r["line"], r["reason"]) for r in rejects] == [("bq://p.d.t", 2, "broken JSON")]
    not_a_dump = pages_of(b"hello, world", "gs://b/notes.txt")
    assert isinstance(not_a_dump[0], Result) and not_a_dump[0].value["input"] == "gs://b/notes.txt"


def purchase(tid, ts, page_line):
    return convert_page(Page("src", ((page_line, None, json.dumps({
        "timestamp": ts, "ecommerce": {"purchase": {"actionField": {"id": tid, "revenue": "5"},
                                                    "products": [{"id": "A", "price": "5"}]}},
    }).encode(), UNDECODED),)), OPTIONS)


def test_keep_first_keeps_the_earliest_then_the_first_source_then_position():
    early, late, tie = purchase("T1", T0 + 5, 9), purchase("T1", T0 + 50, 1), purchase("T1", T0 + 5, 3)
    for group in ([*late, *early, *tie], [*tie, *early, *late], [*early, *tie, *late]):
        kept, dropped = keep_first(group)
        assert kept == tie and dropped == 2
    assert keep_first([]) == ([], 0)


def purchase_page(source, line, tid, ts):
    push = {"timestamp": ts, "ecommerce": {"purchase": {
        "actionField": {"id": tid, "revenue": "5"}, "products": [{"id": "A", "price": "5"}]}}}
    return Page(source, ((line, None, json.dumps(push), UNDECODED),))


@settings(max_examples=30)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 50),
                          st.sampled_from(["T1", "T2"]), st.integers(0, 3)),
                min_size=1, max_size=12, unique_by=lambda p: (p[0], p[1])),
       st.randoms())
def test_keep_first_does_not_depend_on_the_order_of_the_group(purchases, rnd):
    results = []
    for source, line, tid, minute in purchases:
        results += convert_page(purchase_page(source, line, tid, T0 + minute * 60), OPTIONS)
    assert len(results) == 2 * len(purchases)  # a transaction and its product_purchase
    by_tid = {}
    for result in results:
        by_tid.setdefault(result.transaction, []).append(result)
    for group in by_tid.values():
        kept, dropped = keep_first(group)
        shuffled = group[:]
        rnd.shuffle(shuffled)
        assert keep_first(shuffled) == (kept, dropped)
        segments = {result.order[:-1] for result in group}
        assert dropped == len(segments) - 1
        times = [result.value["data"]["timestamp"] for result in group]
        assert kept[0].value["data"]["timestamp"] == min(times)
        assert {r.value["data"]["event_type"] for r in kept} == {"transaction", "product_purchase"}


def stats_with(first):
    stats = ConvertStats()
    for path, where in first.items():
        stats.dropped[path] += 1
        stats.dropped_first[path] = where
        stats.unsupported[path] += 1
        stats.unsupported_first[path] = where
    return stats


@settings(max_examples=40)
@given(st.lists(st.dictionaries(st.sampled_from(["a.x", "b.y"]),
                                st.builds("{}:{} [{}]".format, st.sampled_from(["gs://b/1", "gs://b/1:2", "t"]),
                                          st.integers(1, 99), st.integers(0, 3)), min_size=1),
                min_size=1, max_size=6), st.randoms())
def test_stats_merge_in_any_order(parts, rnd):
    def merged(order):
        total = ConvertStats()
        for part in order:
            total.add(stats_with(part))
        return total
    shuffled = parts[:]
    rnd.shuffle(shuffled)
    assert merged(parts) == merged(shuffled)
    first = merged(parts).dropped_first
    for path, where in first.items():
        candidates = [part[path] for part in parts if path in part]
        source, _, rest = where.rpartition(":")
        assert all((source, int(rest.split()[0])) <= (c.rpartition(":")[0], int(c.rpartition(":")[2].split()[0]))
                   for c in candidates)


# -- GA360 sessions -------------------------------------------------------------------------------

def test_sessions_as_bigquery_rows_give_the_cli_commands_and_rejects():
    path = DUMPS / "bq-sessions.jsonl"
    commands, rejects = cli_output([path], OPTIONS)
    typed, as_exported = [], []
    for row in ga360_rows(path):
        typed += convert_session(as_bigquery_types(row), OPTIONS, source_id="p.d.ga_sessions_x")
        as_exported += convert_session(row, OPTIONS, source_id="p.d.ga_sessions_x")
    got, _, _ = engine_output(typed)
    assert sorted(map(key, got)) == sorted(map(key, commands)) and commands
    got, got_rejects, _ = engine_output(as_exported)
    assert sorted(map(key, got)) == sorted(map(key, commands))
    # A row has no file and no line: the reject names the table (line 0), the rest is the CLI's.
    assert [(r["input"], r["line"]) for r in got_rejects] == [("p.d.ga_sessions_x", 0)] * len(rejects)
    assert unplaced(got_rejects) == unplaced(rejects)


def test_the_ga360_history_gives_the_cli_output_from_typed_rows_in_any_order():
    options = ConvertOptions(bq_customer_id=("userId", "clientId", "fullVisitorId"))
    stats = ConvertStats()
    commands, rejects = cli_output([GA360], options, stats=stats)
    assert stats.duplicates == 1 and len(rejects) == 1
    rows = [as_bigquery_types(row) for row in ga360_rows()]
    random.Random(7).shuffle(rows)
    results = []
    for row in rows:
        results += convert_session(row, options, source_id="p.d.ga_sessions_*")
    got, got_rejects, duplicates = engine_output(results)
    assert sorted(map(key, got)) == sorted(map(key, commands))
    assert unplaced(got_rejects) != unplaced(rejects)  # typed rows show ints in the reject
    assert len(got_rejects) == 1 and duplicates == 1


def test_session_key_is_visitor_visit_and_start():
    assert session_key({"fullVisitorId": "7", "visitId": 12, "visitStartTime": 1500}) == "7/12/1500"


# -- plain pickle ---------------------------------------------------------------------------------

def test_options_encoders_schemas_pages_and_results_pickle_with_plain_pickle():
    options = ConvertOptions(ids=(IdSpec.parse("registered=user.email"),), mapping=Shouting(),
                             timestamp="ts", bq_customer_id=("userId", "clientId"))
    assert pickle.loads(pickle.dumps(options)) == options
    assert pickle.loads(pickle.dumps(dumps)) is dumps
    for encoder in ENCODERS.values():
        assert pickle.loads(pickle.dumps(encoder)) is encoder
    for schema in (_row_schema(False, True), _row_schema(True, False),
                   event_schema(ga4.GA4, "purchase", False), event_schema(gtag.UA_GTAG, "refund", True),
                   item_schema(gtag.GA4_GTAG, False, promotions=True), item_schema(ga4.GA4, True)):
        assert pickle.loads(pickle.dumps(schema)) is schema
    pages = pages_of((DUMPS / "whole-page.json").open("rb"), "x")
    assert pickle.loads(pickle.dumps(pages)) == pages
    results = convert_all(pages)
    assert pickle.loads(pickle.dumps(results)) == results
    stats = ConvertStats()
    convert_page(pages[0], OPTIONS, stats=stats)
    assert pickle.loads(pickle.dumps(stats)) == stats


def test_a_mapping_made_at_run_time_reaches_a_fresh_worker_process():
    options = ConvertOptions(mapping=Shouting(), ids=OPTIONS.ids)
    pages = pages_of((DUMPS / "whole-page.json").open("rb"), "x")
    spawn = multiprocessing.get_context("spawn")  # nothing inherited: only what was pickled
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        results = pool.submit(convert_page, pages[0], options).result(timeout=120)
    types = [r.value["data"]["event_type"] for r in results if r.kind == "command"]
    assert types and all(t == t.upper() for t in types)
    assert {r.value["data"]["properties"]["tracked_via"] for r in results if r.kind == "command"} == {"engine-test"}


# -- CSV columns ----------------------------------------------------------------------------------

def test_csv_columns_do_not_depend_on_order_or_split_and_match_the_cli_cells(tmp_path):
    from ga_ee_bridge.convert.engine import csv_columns, merge_csv_columns

    commands, _ = cli_output([DUMPS / "whole-page.json", DUMPS / "ga4-page.json"], OPTIONS)
    columns = csv_columns(commands)
    shuffled = commands[:]
    random.Random(1).shuffle(shuffled)
    assert csv_columns(shuffled) == columns
    assert merge_csv_columns(csv_columns(shuffled[:5]), csv_columns(shuffled[5:])) == columns
    purchase = columns["product_purchase"]
    assert list(purchase.properties) == sorted(purchase.properties)
    assert purchase.header[: len(purchase.ids) + 1] == [*purchase.ids, "timestamp"]
    first = next(c for c in commands if c["data"]["event_type"] == "product_purchase")
    row = dict(zip(purchase.header, purchase.row(first), strict=True))
    assert row["timestamp"] == repr(first["data"]["timestamp"])
    assert row["price"] == json.dumps(first["data"]["properties"]["price"])


def test_csv_columns_put_customer_updates_in_the_customer_import_without_a_time():
    from ga_ee_bridge.convert.engine import csv_columns
    from ga_ee_bridge.convert.updates import CUSTOMERS
    from ga_ee_bridge.core.events import customer_command

    update = customer_command({"registered": "a@example.com"}, {"timestamp": "x", "first_name": "A"})
    columns = csv_columns([update])
    assert columns[CUSTOMERS].header == ["registered", "first_name", "timestamp"]
    assert columns[CUSTOMERS].row(update) == ["a@example.com", "A", "x"]
