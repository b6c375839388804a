"""Apache Beam (Dataflow): dumps and GA360 sessions -> the CLI's commands and rejects; a sender.

The extra ``ga-ee-bridge[beam]``. :class:`ConvertDumps` reads whole files (never cut inside a
page), :class:`ConvertGa360Sessions` takes ``ga_sessions_*`` rows (from
``beam.io.ReadFromBigQuery`` or any dicts); both give a :class:`ConvertResult` whose ``commands``
are exactly what ``ga-ee-bridge convert`` prints and whose ``rejects`` are exactly the records of
its rejects file (in no order). The duplicate-purchase check runs across the whole pipeline (a
group-by on the transaction id, then :func:`~ga_ee_bridge.convert.engine.keep_first`), and the
output does not depend on bundling or retries. :class:`WriteToExponea` sends the commands.
Metrics (namespace ``ga_ee_bridge``): ``converted``, ``skipped``, ``duplicate``, ``rejected``.
See docs/engines.md.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, NamedTuple

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

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
from ga_ee_bridge.convert.results import ConvertStats, Reject
from ga_ee_bridge.errors import APIError
from ga_ee_bridge.send.policy import RateLimiter, RetryPolicy
from ga_ee_bridge.send.request import DEFAULT_BASE_URL, Credentials, TrackingAPI

__all__ = ["ConvertDumps", "ConvertGa360Sessions", "ConvertResult", "WriteToExponea"]

logger = logging.getLogger("ga_ee_bridge.beam")

#: The namespace of the pipeline's metrics.
NAMESPACE = "ga_ee_bridge"
#: The Tracking API's limit: requests a minute from one IP address.
API_REQUESTS_PER_MINUTE = 6000
#: Commands in one batch request (the batch endpoint's limit).
BATCH_SIZE = 50


class ConvertResult(NamedTuple):
    """What a conversion transform gives: ``commands`` and ``rejects``, PCollections of dicts."""

    commands: Any
    rejects: Any


def _reject_result(reject: Reject) -> Result:
    return Result("reject", reject.to_json(), None, (reject.input, reject.line, -1, "", 0))


class _SplitFiles(beam.DoFn):
    """A matched file -> its :class:`Page`\\ s (whole pages), or the reject of a non-dump."""

    def __init__(self, options: ConvertOptions, page_records: int):
        self.options = options
        self.page_records = page_records

    def process(self, metadata: Any) -> Iterator[Page | Result]:
        path = metadata.path
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
            for page in split_pages(stream, source_id=path, options=self.options,
                                    page_records=self.page_records):
                yield _reject_result(page) if isinstance(page, Reject) else page


class _Convert(beam.DoFn):
    """A :class:`Page` (or a session row) -> its :class:`Result`\\ s; counts skipped pushes."""

    def __init__(self, options: ConvertOptions, source_id: str | None = None):
        self.options = options
        self.source_id = source_id
        self.skipped = Metrics.counter(NAMESPACE, "skipped")

    def process(self, element: Any) -> Iterator[Result]:
        if isinstance(element, Result):
            yield element
            return
        stats = ConvertStats()
        if isinstance(element, Page):
            results = convert_page(element, self.options, stats=stats)
        else:
            row = element if isinstance(element, dict) else dict(element)
            results = convert_session(row, self.options, source_id=self.source_id or "",
                                      stats=stats)
        self.skipped.inc(stats.skipped)
        yield from results


class _Route(beam.DoFn):
    """Results -> commands (main), purchases keyed by transaction id, rejects."""

    def __init__(self, keep_duplicates: bool):
        self.keep_duplicates = keep_duplicates
        self.rejected = Metrics.counter(NAMESPACE, "rejected")

    def process(self, result: Result) -> Iterator[Any]:
        if result.kind == "reject":
            self.rejected.inc()
            yield beam.pvalue.TaggedOutput("rejects", result.value)
        elif result.transaction is None or self.keep_duplicates:
            yield result.value
        else:
            yield beam.pvalue.TaggedOutput("purchases", (result.transaction, result))


class _KeepFirst(beam.DoFn):
    """One transaction id's purchases -> the commands of the one kept; counts duplicates."""

    def __init__(self) -> None:
        self.duplicate = Metrics.counter(NAMESPACE, "duplicate")

    def process(self, element: tuple[str, Iterable[Result]]) -> Iterator[dict[str, Any]]:
        kept, dropped = keep_first(element[1])
        self.duplicate.inc(dropped)
        for result in kept:
            yield result.value


class _Count(beam.DoFn):
    def __init__(self) -> None:
        self.converted = Metrics.counter(NAMESPACE, "converted")

    def process(self, command: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self.converted.inc()
        yield command


def _finish(results: Any, options: ConvertOptions) -> ConvertResult:
    routed = results | "Route" >> beam.ParDo(_Route(options.keep_duplicates)).with_outputs(
        "purchases", "rejects", main="commands")
    kept = (routed.purchases
            | "ByTransaction" >> beam.GroupByKey()
            | "KeepFirst" >> beam.ParDo(_KeepFirst()))
    commands = ((routed.commands, kept) | "Commands" >> beam.Flatten()
                | "CountConverted" >> beam.ParDo(_Count()))
    return ConvertResult(commands, routed.rejects)


class ConvertDumps(beam.PTransform):
    """File patterns (``gs://bucket/dumps/*.jsonl.gz``) -> :class:`ConvertResult`.

    Each file is read whole by one worker, split into :class:`Page`\\ s (``page_records`` records
    or more, whole pages only), shuffled, and converted anywhere. ``options``: the
    :class:`ConvertOptions` the library takes. Rejects name the file by its full path.
    """

    def __init__(self, options: ConvertOptions, *, page_records: int = PAGE_RECORDS):
        super().__init__()
        self.options = options
        self.page_records = page_records

    def expand(self, patterns: Any) -> ConvertResult:
        results = (patterns
                   | "Match" >> fileio.MatchAll()
                   | "Split" >> beam.ParDo(_SplitFiles(self.options, self.page_records))
                   | "Spread" >> beam.Reshuffle()
                   | "Convert" >> beam.ParDo(_Convert(self.options)))
        return _finish(results, self.options)


class ConvertGa360Sessions(beam.PTransform):
    """GA360 ``ga_sessions_*`` rows (dicts, as ``ReadFromBigQuery`` yields them) ->
    :class:`ConvertResult`, each row converted as ``--source bq`` converts a line.

    ``source_id`` (the table, e.g. ``project.dataset.ga_sessions_*``) names a session's rejects
    (with line 0: rows have none) and breaks ties between duplicate purchases.
    """

    def __init__(self, options: ConvertOptions, *, source_id: str = "ga_sessions"):
        super().__init__()
        self.options = options
        self.source_id = source_id

    def expand(self, rows: Any) -> ConvertResult:
        results = rows | "Convert" >> beam.ParDo(_Convert(self.options, self.source_id))
        return _finish(results, self.options)


# -- sending ----------------------------------------------------------------------------------


#: The sender's retry rule; a worker's attempts are also bounded by ``max_attempts``.
_RETRY = RetryPolicy()


class _RateLimiter:
    """The sender's :class:`~ga_ee_bridge.send.policy.RateLimiter`, one per process and rate (DoFn
    instances of one worker share it), at ``per_minute`` requests a minute across its threads."""

    _shared: ClassVar[dict[float, _RateLimiter]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, per_minute: float):
        self.slots = RateLimiter(per_minute / 60.0)
        self.lock = threading.Lock()

    @classmethod
    def shared(cls, per_minute: float) -> _RateLimiter:
        """The process's limiter for this rate."""
        with cls._lock:
            limiter = cls._shared.get(per_minute)
            if limiter is None:
                limiter = cls._shared[per_minute] = cls(per_minute)
            return limiter

    def wait(self) -> None:
        """Block until the next request may go."""
        with self.lock:
            pause = self.slots.reserve(time.monotonic())
        if pause > 0:
            time.sleep(pause)


class _SendBatches(beam.DoFn):
    """Batches of commands -> one synchronous batch request each; yields the refused commands."""

    def __init__(self, project_token: str, credentials: Credentials, base_url: str,
                 per_worker: float, max_attempts: int, timeout: float):
        self.project_token = project_token
        self.credentials = credentials
        self.base_url = base_url
        self.per_worker = per_worker
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.sent = Metrics.counter(NAMESPACE, "sent")
        self.refused = Metrics.counter(NAMESPACE, "refused")
        self.api: TrackingAPI | None = None

    def __repr__(self) -> str:
        return f"_SendBatches(project_token={self.project_token!r}, auth={self.credentials.kind!r})"

    def setup(self) -> None:
        self.api = TrackingAPI(self.project_token, self.credentials, base_url=self.base_url,
                               timeout=self.timeout)
        self.limiter = _RateLimiter.shared(self.per_worker)
        self.rng = random.Random()

    def teardown(self) -> None:
        if self.api is not None:
            self.api.close()

    def process(self, batch: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        assert self.api is not None
        started = time.monotonic()
        for attempt in range(1, self.max_attempts + 1):
            self.limiter.wait()
            try:
                results = self.api.batch(batch)
                break
            except APIError as err:  # the sender's retry rule: which errors, how long to wait
                pause = _RETRY.delay(err, attempt, time.monotonic() - started, self.rng)
                if pause is None or attempt == self.max_attempts:
                    # The runner retries the bundle: the same commands again, which is safe.
                    raise
                logger.warning("batch of %d commands: %s; retrying in %.1fs (attempt %d of %d)",
                               len(batch), err.message, pause, attempt, self.max_attempts)
                time.sleep(pause)
        for command, result in zip(batch, results, strict=True):
            if result.success:
                self.sent.inc()
            else:
                self.refused.inc()
                yield {"command": command, "reason": result.reason}


class WriteToExponea(beam.PTransform):
    """Commands -> Exponea's batch endpoint, ``batch_size`` (at most 50) a request; gives the
    commands the server refused (``{"command": ..., "reason": ...}``).

    Synchronous (no background thread in a worker). ``requests_per_minute`` is the global budget
    (the API allows 6,000 a minute per IP); each worker process gets ``requests_per_minute /
    max_workers`` (``max_workers``: the most worker processes that run at once, e.g. Dataflow's
    ``max_num_workers`` times the SDK processes per worker). Retryable failures are retried
    ``max_attempts`` times, then the bundle fails and the runner retries it: commands are
    identical on every try (the same timestamps), so a retry adds no duplicate events.
    """

    def __init__(self, *, project_token: str, api_key_id: str | None = None,
                 api_secret: str | None = None, public_token: str | None = None,
                 base_url: str = DEFAULT_BASE_URL,
                 requests_per_minute: float = API_REQUESTS_PER_MINUTE, max_workers: int = 1,
                 batch_size: int = BATCH_SIZE, max_attempts: int = 5, timeout: float = 10.0):
        super().__init__()
        if not 1 <= batch_size <= BATCH_SIZE:
            raise ValueError(f"batch_size must be 1 to {BATCH_SIZE}, got {batch_size}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        if not (math.isfinite(requests_per_minute) and requests_per_minute > 0):
            raise ValueError(f"requests_per_minute must be positive, got {requests_per_minute}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.credentials = Credentials(api_key_id=api_key_id, api_secret=api_secret,
                                       public_token=public_token)
        TrackingAPI(project_token, self.credentials).close()  # checks the token now
        self.project_token = project_token
        self.base_url = base_url
        self.per_worker = requests_per_minute / max_workers
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.timeout = timeout

    def __repr__(self) -> str:
        return (f"WriteToExponea(project_token={self.project_token!r}, "
                f"auth={self.credentials.kind!r}, per_worker={self.per_worker:g}/min)")

    def expand(self, commands: Any) -> Any:
        return (commands
                | "Batch" >> beam.BatchElements(min_batch_size=self.batch_size,
                                                max_batch_size=self.batch_size)
                | "Send" >> beam.ParDo(_SendBatches(
                    self.project_token, self.credentials, self.base_url, self.per_worker,
                    self.max_attempts, self.timeout)))
