"""The Spark recipe on local[2]: exactly the CLI's commands and rejects, however partitioned."""

import json
import os
import random
import sys

import pytest

pyspark = pytest.importorskip("pyspark")

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

from ga_ee_bridge.spark import convert_dumps, convert_sessions  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    # The workers run this interpreter (the one with ga-ee-bridge installed), as on a cluster.
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (SparkSession.builder.master("local[2]").appName("ga-ee-bridge-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
               .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def collected(conversion):
    return sorted(map(key, conversion.commands.collect())), sorted(map(key, conversion.rejects.collect()))


@pytest.mark.parametrize("page_records,partitions", [(1, 3), (1000, 1)])
def test_every_dump_gives_the_cli_output_however_partitioned(spark, page_records, partitions):
    for path in DUMP_FILES:
        commands, rejects = cli_output([path], OPTIONS)
        got = collected(convert_dumps(spark.sparkContext, [str(path)], OPTIONS,
                                      partitions=partitions, page_records=page_records))
        assert got == (sorted(map(key, commands)), sorted(map(key, rejects))), path.name


def test_all_dumps_at_once_keep_the_earliest_duplicate(spark):
    earliest_first = [DUMPS / "mp-hits.log", *(p for p in DUMP_FILES if p.name != "mp-hits.log")]
    commands, rejects = cli_output(earliest_first, OPTIONS)
    got = collected(convert_dumps(spark.sparkContext, str(DUMPS / "*.*"), OPTIONS, partitions=4))
    assert got == (sorted(map(key, commands)), sorted(map(key, rejects)))


def test_ga360_sessions_from_a_dataframe_and_an_rdd_give_the_cli_output(spark):
    commands, rejects = cli_output([GA360], GA360_OPTIONS)
    rows = ga360_rows()
    random.Random(3).shuffle(rows)
    rdd = spark.sparkContext.parallelize(rows, 3)
    got = convert_sessions(rdd, GA360_OPTIONS, source_id="p.d.ga_sessions_*")
    assert sorted(map(key, got.commands.collect())) == sorted(map(key, commands))
    got_rejects = got.rejects.collect()
    assert unplaced(got_rejects) == unplaced(rejects)
    assert {(r["input"], r["line"]) for r in got_rejects} == {("p.d.ga_sessions_*", 0)}
    frame = spark.read.json(spark.sparkContext.parallelize(
        [json.dumps(as_bigquery_types(row)) for row in rows], 2))
    typed = convert_sessions(frame, GA360_OPTIONS, source_id="p.d.ga_sessions_*")
    assert sorted(map(key, typed.commands.collect())) == sorted(map(key, commands))


def test_the_ga360_file_through_convert_dumps_is_exactly_the_cli(spark):
    commands, rejects = cli_output([GA360], GA360_OPTIONS)
    got = collected(convert_dumps(spark.sparkContext, [str(GA360)], GA360_OPTIONS, partitions=2))
    assert got == (sorted(map(key, commands)), sorted(map(key, rejects)))
