"""The Beam transforms on the DirectRunner: exactly the CLI's commands and rejects, however bundled."""

import itertools
import json
import random
import time

import pytest

beam = pytest.importorskip("apache_beam")

from apache_beam.metrics.metric import MetricsFilter  # noqa: E402
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline  # noqa: E402
from apache_beam.testing.util import assert_that, equal_to  # noqa: E402
from support.engines import (  # noqa: E402
    DUMP_FILES,
    DUMPS,
    GA360,
    GA360_OPTIONS,
    OPTIONS,
    as_bigquery_types,
    cli_output,
    ga360_rows,
    key,
    unplaced,
)

from ga_ee_bridge.beam import ConvertDumps, ConvertGa360Sessions, WriteToExponea  # noqa: E402
from ga_ee_bridge.convert.results import ConvertStats  # noqa: E402


def counters(result):
    found = result.metrics().query(MetricsFilter().with_namespace("ga_ee_bridge"))["counters"]
    totals = {}
    for counter in found:
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + counter.committed
    return totals


def test_every_dump_gives_the_cli_commands_and_rejects_one_page_a_bundle():
    with BeamPipeline() as pipeline:
        for path in DUMP_FILES:
            commands, rejects = cli_output([path], OPTIONS)
            result = (pipeline | f"Create {path.name}" >> beam.Create([str(path)])
                      | f"Convert {path.name}" >> ConvertDumps(OPTIONS, page_records=1))
            assert_that(result.commands, equal_to(commands), label=f"commands {path.name}")
            assert_that(result.rejects, equal_to(rejects), label=f"rejects {path.name}")


def test_a_glob_over_every_dump_keeps_the_earliest_of_duplicates_across_files_and_counts():
    # T12345 is bought in analyticsjs-pages.jsonl and, earlier, in mp-hits.log. The CLI keeps the
    # first it reads; an engine reads in no order and keeps the earliest: the CLI agrees when it
    # reads mp-hits.log first.
    earliest_first = [DUMPS / "mp-hits.log", *(p for p in DUMP_FILES if p.name != "mp-hits.log")]
    stats = ConvertStats()
    commands, rejects = cli_output(earliest_first, OPTIONS, stats=stats)
    assert stats.duplicates >= 2
    assert sorted(map(key, cli_output(DUMP_FILES, OPTIONS)[0])) != sorted(map(key, commands))
    pipeline = BeamPipeline()
    result = (pipeline | beam.Create([str(DUMPS / "*.*")])
              | ConvertDumps(OPTIONS, page_records=3))
    assert_that(result.commands, equal_to(commands), label="commands")
    assert_that(result.rejects, equal_to(rejects), label="rejects")
    done = pipeline.run()
    done.wait_until_finish()
    assert counters(done) == {"converted": len(commands), "duplicate": stats.duplicates,
                              "rejected": len(rejects), "skipped": stats.skipped}


def test_ga360_rows_as_read_from_bigquery_give_the_cli_output_in_any_order():
    stats = ConvertStats()
    commands, rejects = cli_output([GA360], GA360_OPTIONS, stats=stats)
    rows = ga360_rows()
    random.Random(12).shuffle(rows)
    pipeline = BeamPipeline()
    typed = (pipeline | "typed" >> beam.Create([as_bigquery_types(row) for row in rows])
             | "convert typed" >> ConvertGa360Sessions(GA360_OPTIONS, source_id="p.d.ga_sessions_*"))
    exported = (pipeline | "exported" >> beam.Create(rows)
                | "convert exported" >> ConvertGa360Sessions(GA360_OPTIONS, source_id="p.d.ga_sessions_*"))
    assert_that(typed.commands, equal_to(commands), label="typed commands")
    assert_that(exported.commands, equal_to(commands), label="exported commands")
    assert_that(exported.rejects | beam.combiners.ToList() | beam.Map(unplaced),
                equal_to([unplaced(rejects)]), label="rejects")
    assert_that(exported.rejects | beam.Map(lambda r: (r["input"], r["line"])),
                equal_to([("p.d.ga_sessions_*", 0)] * len(rejects)), label="where")
    done = pipeline.run()
    done.wait_until_finish()
    found = counters(done)
    assert found["duplicate"] == 2 * stats.duplicates == 2  # both branches saw the reloaded receipt
    assert found["converted"] == 2 * len(commands)


def test_the_ga360_file_through_convert_dumps_is_exactly_the_cli():
    commands, rejects = cli_output([GA360], GA360_OPTIONS)
    with BeamPipeline() as pipeline:
        result = pipeline | beam.Create([str(GA360)]) | ConvertDumps(GA360_OPTIONS)
        assert_that(result.commands, equal_to(commands), label="commands")
        assert_that(result.rejects, equal_to(rejects), label="rejects")


def test_write_to_exponea_sends_every_command_in_batches_of_50_within_the_rate(exponea_server):
    commands, _ = cli_output([GA360], GA360_OPTIONS)
    commands = (commands * 3)[:120]
    exponea_server.fail_next(503, times=1)
    started = time.monotonic()
    with BeamPipeline() as pipeline:
        refused = (pipeline | beam.Create(commands)
                   | WriteToExponea(project_token=exponea_server.project_token,
                                    api_key_id=exponea_server.api_key_id,
                                    api_secret=exponea_server.api_secret,
                                    base_url=exponea_server.url,
                                    requests_per_minute=1200, max_workers=2))
        assert_that(refused, equal_to([]))
    got = sorted(json.dumps(c, sort_keys=True) for c in exponea_server.commands)
    assert got == sorted(json.dumps(c, sort_keys=True) for c in commands)
    batches = [r for r in exponea_server.requests if r.path.endswith("/batch")]
    assert [r.status for r in batches].count(503) == 1  # and that batch was sent again
    assert max(r.commands for r in batches) == 50
    arrivals = sorted(r.at for r in batches)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(batches) >= 4 and min(gaps) >= 0.09  # 1200 a minute over 2 workers: 0.1 s apart
    assert time.monotonic() - started >= 0.09 * len(gaps)


def test_write_to_exponea_gives_the_refused_commands_and_hides_the_secret(exponea_server):
    commands, _ = cli_output([GA360], GA360_OPTIONS)
    exponea_server.reject_commands(lambda c: "no refunds" if c["data"]["event_type"] == "refund" else None)
    write = WriteToExponea(project_token=exponea_server.project_token,
                           api_key_id=exponea_server.api_key_id, api_secret=exponea_server.api_secret,
                           base_url=exponea_server.url)
    assert exponea_server.api_secret not in repr(write)
    with BeamPipeline() as pipeline:
        refused = pipeline | beam.Create(commands) | write
        assert_that(refused | beam.Map(lambda r: (r["command"]["data"]["event_type"], "no refunds" in r["reason"])),
                    equal_to([("refund", True)]))
    with pytest.raises(ValueError, match="batch_size"):
        WriteToExponea(project_token="t", public_token="p", batch_size=51)
