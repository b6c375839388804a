"""Spark (Databricks, EMR): dumps and GA360 sessions -> the CLI's commands and rejects, as RDDs.

The extra ``ga-ee-bridge[spark]``. The pure API of :mod:`ga_ee_bridge.convert.engine` run with
``mapPartitions``: :func:`convert_dumps` reads whole files (``binaryFiles``: never cut inside a
page), :func:`convert_sessions` takes ``ga_sessions_*`` rows (a DataFrame or an RDD of dicts).
Both give a :class:`SparkConversion` whose ``commands`` are exactly what ``ga-ee-bridge convert``
prints and whose ``rejects`` are exactly its rejects file's records (in no order); the
duplicate-purchase check is a ``groupByKey`` on the transaction id. See docs/engines.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any, NamedTuple

from ga_ee_bridge.convert.engine import (
    PAGE_RECORDS,
    Page,
    Result,
    convert_page,
    convert_session,
    keep_first,
    split_pages,
)
from ga_ee_bridge.convert.options import ConvertOptions
from ga_ee_bridge.convert.results import Reject

__all__ = ["SparkConversion", "convert_dumps", "convert_sessions", "finish"]


class SparkConversion(NamedTuple):
    """``commands`` and ``rejects``: RDDs of dicts (Tracking API commands, rejects records)."""

    commands: Any
    rejects: Any


def _local_name(uri: str) -> str:
    """A local file as the CLI names it (``file:/data/x.jsonl`` -> ``/data/x.jsonl``)."""
    if uri.startswith("file://"):
        return uri[len("file://"):]
    return uri[len("file:"):] if uri.startswith("file:") else uri


def _split_file(options: ConvertOptions, page_records: int,
                item: tuple[str, bytes]) -> Iterator[Page | Result]:
    uri, data = item
    source_id = _local_name(uri)
    for page in split_pages(data, source_id=source_id, options=options,
                            page_records=page_records):
        if isinstance(page, Reject):
            yield Result("reject", page.to_json(), None, (page.input, page.line, -1, "", 0))
        else:
            yield page


def _convert_pages(options: ConvertOptions, pages: Iterable[Page | Result]) -> Iterator[Result]:
    for page in pages:
        if isinstance(page, Result):
            yield page
        else:
            yield from convert_page(page, options)


def _convert_rows(options: ConvertOptions, source_id: str, rows: Iterable[Any]
                  ) -> Iterator[Result]:
    for row in rows:
        if not isinstance(row, dict):
            row = row.asDict(recursive=True)  # a pyspark Row
        yield from convert_session(row, options, source_id=source_id)


def _kept(group: tuple[str, Iterable[Result]]) -> list[dict[str, Any]]:
    return [result.value for result in keep_first(group[1])[0]]


def finish(results: Any, options: ConvertOptions) -> SparkConversion:
    """An RDD of :class:`Result` -> :class:`SparkConversion`: duplicate purchases dropped (the
    first kept: earliest, then ``source_id``, then position) unless ``options.keep_duplicates``."""
    results = results.cache()
    rejects = results.filter(lambda r: r.kind == "reject").map(lambda r: r.value)
    commands = results.filter(lambda r: r.kind == "command")
    if options.keep_duplicates:
        return SparkConversion(commands.map(lambda r: r.value), rejects)
    plain = commands.filter(lambda r: r.transaction is None).map(lambda r: r.value)
    kept = (commands.filter(lambda r: r.transaction is not None)
            .map(lambda r: (r.transaction, r)).groupByKey().flatMap(_kept))
    return SparkConversion(plain.union(kept), rejects)


def convert_dumps(sc: Any, paths: str | Iterable[str], options: ConvertOptions, *,
                  partitions: int | None = None, page_records: int = PAGE_RECORDS
                  ) -> SparkConversion:
    """Dump files (paths or globs Hadoop reads: ``s3://``, ``gs://``, ``dbfs:/``, local) ->
    :class:`SparkConversion`. ``sc``: the SparkContext; ``partitions``: how many partitions the
    pages are spread over (default: Spark's default parallelism). Each file is read whole."""
    joined = paths if isinstance(paths, str) else ",".join(paths)
    pages = sc.binaryFiles(joined).flatMap(partial(_split_file, options, page_records))
    pages = pages.repartition(partitions or sc.defaultParallelism)
    return finish(pages.mapPartitions(partial(_convert_pages, options)), options)


def convert_sessions(rows: Any, options: ConvertOptions, *, source_id: str = "ga_sessions"
                     ) -> SparkConversion:
    """GA360 ``ga_sessions_*`` rows (a DataFrame, e.g. ``spark.read.format("bigquery")``, or an
    RDD of dicts) -> :class:`SparkConversion`; ``source_id`` (the table) names rejects."""
    rdd = rows.rdd if hasattr(rows, "rdd") else rows
    return finish(rdd.mapPartitions(partial(_convert_rows, options, source_id)), options)
