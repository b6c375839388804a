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
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
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
    args = parser.parse_args()
    if not args.spool_only:
        client_rows(args)
    spool_rows(args)


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
