"""Events per second through ``Exponea`` into the local server, next to bare httpx; spool overhead.

Run: ``PYTHONPATH=. python benchmarks/bench_sender.py [--events N]``. Every path posts the same
shape of commands to the same local server (``ga_ee_bridge.testing.server``) in the same run, in batches
of 50, one request at a time. ``ratio`` is bare-httpx throughput over client throughput (target:
at most 1.5). The spool rows add a durable write per call (SQLite WAL; ``full`` fsyncs).
The ``AsyncExponea`` rows track from one task (each spooled call waits for its own commit) and
from 50 tasks (their writes share group commits).

The spool section measures what group commit gains: ``--threads`` threads write at once, first
with each call in its own transaction (``group_commit=False``, the 0.2 behaviour), then with
concurrent calls combined into one transaction; calls/s is the rate at which the calls return
(each durable on disk), for ``synchronous="full"`` and ``"normal"``: ``Spool.add`` alone, then
``track()`` through a client (which adds validation, encoding and the sender thread's reads and
deletes on the same file).

Then issue 13's two targets. *Spool full end to end*: ``track()`` with a ``synchronous="full"``
spool from 1 and ``--threads`` threads, until everything was delivered, with one transaction per
call and with the default (group commit), next to issue 13's 4.4k events/s and the disk's fsync
floor (one thread's calls each wait for their own fsync: it cannot beat that floor).
*track() latency*: the distribution (p50, p99, p999, max) of one ``track()`` call without a spool,
the queue never full and the sender sending, with the server in a child process (as a real one
is) and in this process; wall time, and the calling thread's CPU time (on a shared machine the
wall tail is mostly other processes' time slices). The control row *fixed work, same p50*
times a fixed piece of pure-Python work sized to the same median: its p99 is this machine's
own tail, the least any call of that size can show here. ``--latency-only`` runs only that.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from ga_ee_bridge import AsyncExponea, Exponea, Spool
from ga_ee_bridge.testing.server import ExponeaServer


def _properties(n: int) -> dict[str, Any]:
    return {"product_id": f"P{n % 500}", "name": "Shirt", "price": 15.25, "quantity": 1 + n % 3,
            "currency_code": "EUR", "n": n}


def bare_httpx(server: ExponeaServer, events: int) -> float:
    """Post pre-built batches with one httpx.Client; returns events/s."""
    base = time.time()
    commands = [{"name": "customers/events", "data": {
        "customer_ids": {"registered": f"user{n % 1000}"}, "event_type": "product_detail",
        "timestamp": base + n / 1000, "properties": _properties(n)}} for n in range(events)]
    batches = [commands[i:i + 50] for i in range(0, events, 50)]
    raw = f"{server.api_key_id}:{server.api_secret}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode(),
               "Content-Type": "application/json"}
    url = f"{server.url}/track/v2/projects/{server.project_token}/batch"
    with httpx.Client(headers=headers) as client:
        started = time.perf_counter()
        for batch in batches:
            response = client.post(url, content=json.dumps({"commands": batch}).encode())
            response.raise_for_status()
        elapsed = time.perf_counter() - started
    return events / elapsed


def through_client(server: ExponeaServer, events: int, **options: Any) -> tuple[float, float]:
    """Track through Exponea and flush; returns (events/s end to end, mean µs per track call)."""
    client = Exponea(server.project_token, api_key_id=server.api_key_id,
                     api_secret=server.api_secret, base_url=server.url, **options)
    visitors = [client.customer(registered=f"user{n}") for n in range(1000)]
    calls = 0.0
    started = time.perf_counter()
    for n in range(events):
        before = time.perf_counter()
        visitors[n % 1000].track("product_detail", _properties(n))
        calls += time.perf_counter() - before
    assert client.flush(600), "not everything was delivered"
    elapsed = time.perf_counter() - started
    assert client.stats.accepted == events and client.stats.failed == 0
    client.close()
    return events / elapsed, calls / events * 1e6


def through_async_client(server: ExponeaServer, events: int, *, tasks: int = 1,
                         **options: Any) -> tuple[float, float]:
    """Track through AsyncExponea from ``tasks`` concurrent tasks and flush.

    Returns (events/s end to end, µs of loop time per call: the calls' wall time over the events,
    so concurrent tasks whose spool writes share a commit show the amortised cost).
    """
    async def run() -> tuple[float, float]:
        async with AsyncExponea(server.project_token, api_key_id=server.api_key_id,
                                api_secret=server.api_secret, base_url=server.url,
                                **options) as client:
            visitors = [client.customer(registered=f"user{n}") for n in range(1000)]

            async def producer(k: int) -> None:
                for n in range(k, events, tasks):
                    await visitors[n % 1000].track("product_detail", _properties(n))

            started = time.perf_counter()
            await asyncio.gather(*(producer(k) for k in range(tasks)))
            calls = time.perf_counter() - started
            assert await client.flush(600), "not everything was delivered"
            elapsed = time.perf_counter() - started
            assert client.stats.accepted == events and client.stats.failed == 0
        return events / elapsed, calls / events * 1e6

    return asyncio.run(run())


def async_rows(server: ExponeaServer, events: int, tmp: Path,
               rounds: int) -> dict[str, list[tuple[float, float]]]:
    """The AsyncExponea rows of the table: without a spool, and with one from 1 and 50 tasks."""
    rows: dict[str, list[tuple[float, float]]] = {
        "AsyncExponea": [], "AsyncExponea + spool (full)": [],
        "AsyncExponea + spool (full), 50 tasks": []}
    for round_ in range(rounds):
        server.reset()
        rows["AsyncExponea"].append(through_async_client(server, events))
        server.reset()
        rows["AsyncExponea + spool (full)"].append(through_async_client(
            server, events, spool=tmp / f"async-full{round_}.db"))
        server.reset()
        rows["AsyncExponea + spool (full), 50 tasks"].append(through_async_client(
            server, events, tasks=50, spool=tmp / f"async-tasks{round_}.db"))
    return rows

def spool_throughput(server: ExponeaServer, path: Path, *, threads: int, calls: int,
                     synchronous: str, group_commit: bool) -> float:
    """``threads`` threads make ``calls`` track calls each through a spooled client; calls/s."""
    client = Exponea(server.project_token, api_key_id=server.api_key_id,
                     api_secret=server.api_secret, base_url=server.url,
                     spool=Spool(path, synchronous=synchronous, group_commit=group_commit))
    start = threading.Barrier(threads + 1)

    def work(k: int) -> None:
        visitor = client.customer(registered=f"user{k}")
        start.wait()
        for n in range(calls):
            visitor.track("product_detail", _properties(n))

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    assert client.flush(600), "not everything was delivered"
    client.close()
    return threads * calls / elapsed


def raw_spool_throughput(path: Path, *, threads: int, calls: int, synchronous: str,
                         group_commit: bool) -> tuple[float, int]:
    """``threads`` threads each ``Spool.add`` one command ``calls`` times; (adds/s, commits)."""
    spool = Spool(path, synchronous=synchronous, group_commit=group_commit)
    text = json.dumps({"name": "customers/events", "data": {
        "customer_ids": {"registered": "user1"}, "event_type": "product_detail",
        "timestamp": 1.7e9, "properties": _properties(1)}})
    start = threading.Barrier(threads + 1)

    def work() -> None:
        start.wait()
        for _ in range(calls):
            spool.add([text])

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    commits = spool.commits
    spool.close()
    return threads * calls / elapsed, commits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--calls", type=int, default=250, help="track calls per thread")
    parser.add_argument("--spool-only", action="store_true", help="only the spool section")
    parser.add_argument("--latency-only", action="store_true",
                        help="only the track() latency section")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    if args.latency_only:
        latency_rows(args)
        return
    if not args.spool_only:
        client_rows(args)
        latency_rows(args)
    spool_rows(args)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def spool_rows(args: argparse.Namespace) -> None:
    """Print spool throughput before and after group commit."""
    print(f"\nspool: {args.threads} threads x {args.calls} track calls, median of "
          f"{args.rounds} runs")
    print(f"{'path':<26}{'per call (before)':>20}{'group commit':>16}{'gain':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for synchronous in ("full", "normal"):
            raw: dict[bool, list[tuple[float, int]]] = {False: [], True: []}
            for round_ in range(args.rounds):
                for grouped in (False, True):
                    raw[grouped].append(raw_spool_throughput(
                        Path(tmp) / f"raw-{synchronous}-{grouped}-{round_}.db",
                        threads=args.threads, calls=args.calls, synchronous=synchronous,
                        group_commit=grouped))
            before = statistics.median(r[0] for r in raw[False])
            after = statistics.median(r[0] for r in raw[True])
            per_commit = args.threads * args.calls / statistics.median(r[1] for r in raw[True])
            print(f"{'Spool.add, ' + synchronous:<26}{before:17.0f}/s{after:13.0f}/s"
                  f"{after / before:7.1f}x  ({per_commit:.1f} calls a transaction)")
    with ExponeaServer() as server, tempfile.TemporaryDirectory() as tmp:
        for synchronous in ("full", "normal"):
            rates: dict[bool, list[float]] = {False: [], True: []}
            for round_ in range(args.rounds):
                for grouped in (False, True):
                    server.reset()
                    path = Path(tmp) / f"{synchronous}-{grouped}-{round_}.db"
                    rates[grouped].append(spool_throughput(
                        server, path, threads=args.threads, calls=args.calls,
                        synchronous=synchronous, group_commit=grouped))
            before, after = (statistics.median(rates[False]), statistics.median(rates[True]))
            print(f"{'client track, ' + synchronous:<26}{before:17.0f}/s{after:13.0f}/s"
                  f"{after / before:7.1f}x")
    full_spool_rows(args)


#: ``track()`` with a ``full`` spool, one thread, as issue 13 measured it before this round
#: (``bench_sender.py``'s "Exponea + spool (full)" row on a quiet 2-core machine): events/s.
ISSUE_13_BASELINE = 4400.0


def fsync_floor(where: Path, writes: int = 300) -> float:
    """Durable 4 KB overwrites a second (``pwrite`` + ``fdatasync``) of a file in ``where``.

    A call that returns only once its command is on disk cannot, alone, go faster than this:
    it is the single-threaded ceiling of a ``full`` spool on that disk, measured in the same run.
    """
    path = where / "fsync-floor.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"\0" * 4096 * 64)
        os.fsync(fd)
        page = b"x" * 4096
        started = time.perf_counter()
        for n in range(writes):
            os.pwrite(fd, page, 4096 * (n % 64))
            os.fdatasync(fd)
        return writes / (time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()


def spooled_end_to_end(server: ExponeaServer, path: Path, *, threads: int, calls: int,
                       group_commit: bool | None = None,
                       synchronous: str = "full") -> tuple[float, float, float]:
    """``threads`` threads each ``track()`` ``calls`` events through a spooled client, then flush.

    Returns (events/s from the first call to the last delivery, CPU seconds per event of the
    whole process: callers, sender thread and the in-process server alike, events per write
    transaction of the spool).
    """
    spool = Spool(path, synchronous=synchronous, group_commit=group_commit)
    client = Exponea(server.project_token, api_key_id=server.api_key_id,
                     api_secret=server.api_secret, base_url=server.url, spool=spool)
    start = threading.Barrier(threads + 1)

    def work(k: int) -> None:
        visitor = client.customer(registered=f"user{k}")
        start.wait()
        for n in range(calls):
            visitor.track("product_detail", _properties(n))

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    wall, cpu = time.perf_counter(), time.process_time()
    for worker in workers:
        worker.join()
    assert client.flush(600), "not everything was delivered"
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    events = threads * calls
    assert client.stats.accepted == events and client.stats.failed == 0
    client.close()
    return events / wall, cpu / events, events / max(1, spool.commits)


def measure_full_spool(rounds: int, threads: int, calls: int) -> dict[str, Any]:
    """``full`` spool through ``track()``, end to end: per-call transactions against the default
    (group commit), 1 and ``threads`` callers, and the disk's fsync floor; medians of ``rounds``.

    Returns ``{"floor": fsyncs/s, (mode, callers): (events/s, CPU s/event, events a
    transaction)}``, mode ``per-call`` or ``default``.
    """
    got: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    floors = []
    with ExponeaServer() as server, tempfile.TemporaryDirectory() as tmp:
        spooled_end_to_end(server, Path(tmp) / "warm.db", threads=1, calls=100)
        for round_ in range(rounds):
            floors.append(fsync_floor(Path(tmp)))
            for callers in (1, threads):
                n = calls * max(1, threads // 2) if callers == 1 else calls
                for mode, grouped in (("per-call", False), ("default", None)):
                    server.reset()
                    got.setdefault((mode, callers), []).append(spooled_end_to_end(
                        server, Path(tmp) / f"{mode}-{callers}-{round_}.db", threads=callers,
                        calls=n, group_commit=grouped))
    result: dict[str, Any] = {"floor": statistics.median(floors)}
    for key, runs in got.items():
        result[key] = tuple(statistics.median(r[i] for r in runs) for i in range(3))
    return result


def full_spool_rows(args: argparse.Namespace) -> None:
    """Print ``full`` spool throughput end to end against per-call transactions and the baseline."""
    got = measure_full_spool(args.rounds, args.threads, args.calls)
    print(f"\nspool full through track(), end to end (calls, then flush), median of "
          f"{args.rounds}; fsync floor of this disk {got['floor']:.0f}/s; issue 13 baseline "
          f"{ISSUE_13_BASELINE:.0f}/s")
    print(f"{'callers':<9}{'per-call txn':>14}{'default':>12}{'gain':>7}{'vs 4.4k':>9}"
          f"{'cpu us/event':>18}{'events/txn':>16}")
    for callers in (1, args.threads):
        before_rate, before_cpu, before_per = got[("per-call", callers)]
        rate, cpu, per = got[("default", callers)]
        print(f"{callers:<9}{before_rate:12.0f}/s{rate:10.0f}/s{rate / before_rate:6.1f}x"
              f"{rate / ISSUE_13_BASELINE:8.2f}x{before_cpu * 1e6:9.0f} ->{cpu * 1e6:5.0f}"
              f"{before_per:9.1f} ->{per:5.1f}")


def _serve(pipe: Any) -> None:
    """A child process: run an ExponeaServer until the pipe says stop."""
    with ExponeaServer() as server:
        pipe.send((server.url, server.project_token, server.api_key_id, server.api_secret))
        pipe.recv()


def _percentiles(took: list[int], prefix: str = "") -> dict[str, float]:
    """p50, p99, p999 and max of nanosecond samples, in microseconds."""
    took = sorted(took)
    n = len(took)
    return {f"{prefix}p50": took[n // 2] / 1e3, f"{prefix}p99": took[int(n * 0.99)] / 1e3,
            f"{prefix}p999": took[int(n * 0.999)] / 1e3, f"{prefix}max": took[-1] / 1e3}


def track_latency(url: str, token: str, key_id: str, secret: str, events: int
                  ) -> dict[str, float]:
    """Microseconds per ``track()`` call (no spool, the queue never full, the sender sending).

    ``p50``, ``p99``, ``p999``, ``max`` are wall time (what the caller waits, preemption by other
    processes included); ``cpu_p50`` ... are the calling thread's CPU time (what the call itself
    costs: a wait for the GIL or the CPU is not in it); ``cpu`` is the process CPU per event,
    the sender thread included.
    """
    client = Exponea(token, api_key_id=key_id, api_secret=secret, base_url=url,
                     max_queue_size=max(10_000, events))
    visitors = [client.customer(registered=f"user{n}") for n in range(1000)]
    properties = [_properties(n) for n in range(events)]
    wall, cpu = [0] * events, [0] * events
    clock, thread_clock = time.perf_counter_ns, time.thread_time_ns
    process = time.process_time()
    for n in range(events):
        visitor, props = visitors[n % 1000], properties[n]
        before, before_cpu = clock(), thread_clock()
        visitor.track("product_detail", props)
        cpu[n] = thread_clock() - before_cpu
        wall[n] = clock() - before
    assert client.flush(600), "not everything was delivered"
    process = time.process_time() - process
    assert client.stats.accepted == events
    client.close()
    return {**_percentiles(wall), **_percentiles(cpu, "cpu_"), "cpu": process / events * 1e6}


def fixed_work_latency(p50_us: float, samples: int) -> dict[str, float]:
    """The distribution of one fixed piece of pure-Python work (``json.dumps`` of a small dict,
    repeated to take about ``p50_us`` of CPU), timed as :func:`track_latency` times a call.

    The control for the p99 target: every sample does exactly the same work, so its tail
    (p99 over p50) is the machine's own (timer ticks, other virtual machines' slices, caches),
    which no code of ours can go below.
    """
    value = _properties(1)
    clock, thread_clock = time.perf_counter_ns, time.thread_time_ns
    before = thread_clock()
    for _ in range(2000):
        json.dumps(value)
    repeat = max(1, round(p50_us * 1e3 / ((thread_clock() - before) / 2000)))
    wall, cpu = [0] * samples, [0] * samples
    for n in range(samples):
        start, start_cpu = clock(), thread_clock()
        for _ in range(repeat):
            json.dumps(value)
        cpu[n] = thread_clock() - start_cpu
        wall[n] = clock() - start
    return {**_percentiles(wall), **_percentiles(cpu, "cpu_"), "cpu": 0.0}


def measure_latency(events: int, rounds: int) -> dict[str, dict[str, float]]:
    """``track()`` latency with the server in a child process and in this one, and the fixed
    work of the same p50 (:func:`fixed_work_latency`); medians."""
    results: dict[str, dict[str, float]] = {}
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,))
    process.start()
    try:
        where = parent.recv()
        track_latency(*where, 500)  # warm up: imports, the connection
        runs = [track_latency(*where, events) for _ in range(rounds)]
    finally:
        parent.send("stop")
        process.join(10)
    results["server in a child process"] = {k: statistics.median(r[k] for r in runs)
                                            for k in runs[0]}
    with ExponeaServer() as server:
        where = (server.url, server.project_token, server.api_key_id, server.api_secret)
        track_latency(*where, 500)
        runs = [track_latency(*where, events) for _ in range(rounds)]
    results["server in this process"] = {k: statistics.median(r[k] for r in runs)
                                         for k in runs[0]}
    p50 = results["server in a child process"]["cpu_p50"]
    runs = [fixed_work_latency(p50, events) for _ in range(rounds)]
    results["fixed work, same p50"] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return results


def latency_rows(args: argparse.Namespace) -> None:
    """Print the per-call latency distribution of ``track()`` without a spool."""
    got = measure_latency(args.events, args.rounds)
    print(f"\ntrack() without a spool, {args.events} calls from one thread, queue never full, "
          f"median of {args.rounds} runs (target: p99 under 20 us); wall, then the calling "
          f"thread's CPU time")
    print(f"{'local server':<28}{'p50':>7}{'p99':>7}{'p999':>8}{'max':>8}{'cpu p50':>9}"
          f"{'p99':>6}{'p999':>7}{'cpu/event':>11}  us")
    for name, r in got.items():
        print(f"{name:<28}{r['p50']:7.1f}{r['p99']:7.1f}{r['p999']:8.0f}{r['max']:8.0f}"
              f"{r['cpu_p50']:9.1f}{r['cpu_p99']:6.1f}{r['cpu_p999']:7.1f}{r['cpu']:11.1f}")


def client_rows(args: argparse.Namespace) -> None:
    """Print events/s through the client, with and without a spool, next to bare httpx."""
    n = args.events
    rows: dict[str, list[tuple[float, float]]] = {
        "bare httpx": [], "Exponea": [], "Exponea + spool (normal)": [],
        "Exponea + spool (full)": []}
    with ExponeaServer() as server, tempfile.TemporaryDirectory() as tmp:
        through_client(server, 200)  # warm up: imports, connections
        for round_ in range(args.rounds):
            server.reset()
            rows["bare httpx"].append((bare_httpx(server, n), 0.0))
            server.reset()
            rows["Exponea"].append(through_client(server, n))
            server.reset()
            rows["Exponea + spool (normal)"].append(through_client(
                server, n, spool=Path(tmp) / f"normal{round_}.db", spool_synchronous="normal"))
            server.reset()
            rows["Exponea + spool (full)"].append(through_client(
                server, n, spool=Path(tmp) / f"full{round_}.db", spool_synchronous="full"))
        rows.update(async_rows(server, n, Path(tmp), args.rounds))
    medians = {name: (statistics.median(r[0] for r in runs),
                      statistics.median(r[1] for r in runs)) for name, runs in rows.items()}
    bare = medians["bare httpx"][0]
    print(f"{n} events per run, median of {args.rounds} runs, local server on 127.0.0.1")
    print(f"{'path':<40}{'events/s':>12}{'ratio':>8}{'µs/call':>10}")
    for name, (rate, per_call) in medians.items():
        call = f"{per_call:10.1f}" if per_call else f"{'':>10}"
        print(f"{name:<40}{rate:12.0f}{bare / rate:8.2f}{call}")


if __name__ == "__main__":
    main()
