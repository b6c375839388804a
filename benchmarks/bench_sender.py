"""Events per second through ``Exponea`` into the local server, next to bare httpx; spool overhead.

Run: ``PYTHONPATH=. python benchmarks/bench_sender.py [--events N]``. Every path posts the same
shape of commands to the same local server (``ga_ee_bridge.testing.server``) in the same run, in batches
of 50, one request at a time. ``ratio`` is bare-httpx throughput over client throughput (target:
at most 1.5). The spool rows add a durable write per call (SQLite WAL; ``full`` fsyncs each call).
The ``AsyncExponea`` rows track from one task (each spooled call waits for its own commit) and
from 50 tasks (their writes share group commits).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from ga_ee_bridge import AsyncExponea, Exponea
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
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
