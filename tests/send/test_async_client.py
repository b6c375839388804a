"""AsyncExponea: the sync client's semantics and guarantees, on an event loop, against a real server.

The tests run under anyio's pytest plugin (it ships with anyio, which httpx already installs).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import ga_ee_bridge as gee
from ga_ee_bridge.send.async_client import AsyncExponea
from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.testing.server import ExponeaServer, Fault

pytestmark = pytest.mark.anyio

FAST = {"backoff": 0.005, "max_backoff": 0.05, "flush_interval": 0.02}
PURCHASE = {"currencyCode": "EUR", "purchase": {
    "actionField": {"id": "T1", "revenue": "35.43"},
    "products": [{"id": "P1", "name": "Shirt", "price": "15.25", "quantity": 1},
                 {"id": "P2", "name": "Hat", "price": 10, "quantity": 2}]}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client(server: ExponeaServer, **options: Any) -> AsyncExponea:
    return AsyncExponea(server.project_token, api_key_id=server.api_key_id,
                        api_secret=server.api_secret, base_url=server.url, **{**FAST, **options})


def _without_stamps(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for command in commands:
        data = {k: v for k, v in command["data"].items() if k not in ("timestamp",
                                                                      "update_timestamp")}
        out.append({"name": command["name"], "data": data})
    return out


# -- the same commands as the sync client ------------------------------------------------------

async def test_same_calls_make_the_same_commands_as_the_sync_client(
        exponea_server: ExponeaServer) -> None:
    ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15"
    with Exponea(exponea_server.project_token, api_key_id=exponea_server.api_key_id,
                 api_secret=exponea_server.api_secret, base_url=exponea_server.url,
                 default_properties={"shop": "eu"}, **FAST) as sync:
        visitor = sync.customer(cookie="etc-1", user_agent=ua, url="https://shop.example/p")
        visitor.identify("Gordon@Example.com ", {"first_name": "Gordon", "phone": "+421 905 123 456"})
        visitor.update({"language": "SK"})
        visitor.track("view", {"n": 0, "empty": ""})
        assert visitor.track_enhanced_ecommerce(PURCHASE, "purchase") == 3
        visitor.anonymize()
        visitor.track("after_logout")
        assert sync.flush(5)
    expected = exponea_server.commands
    exponea_server.reset()
    async with _client(exponea_server, default_properties={"shop": "eu"}) as exponea:
        visitor_a = exponea.customer(cookie="etc-1", user_agent=ua, url="https://shop.example/p")
        await visitor_a.identify("Gordon@Example.com ",
                                 {"first_name": "Gordon", "phone": "+421 905 123 456"})
        assert visitor_a.customer_ids == {"cookie": "etc-1", "registered": "gordon@example.com"}
        await visitor_a.update({"language": "SK"})
        await visitor_a.track("view", {"n": 0, "empty": ""})
        assert await visitor_a.track_enhanced_ecommerce(PURCHASE, "purchase") == 3
        cookie = visitor_a.anonymize()
        assert visitor_a.customer_ids == {"cookie": cookie}
        await visitor_a.track("after_logout")
        assert await exponea.flush(5)
    got = exponea_server.commands
    # the new cookies are random on both sides; everything else is identical
    assert got[-1]["data"]["customer_ids"]["cookie"] != expected[-1]["data"]["customer_ids"]["cookie"]
    got[-1]["data"]["customer_ids"] = expected[-1]["data"]["customer_ids"] = {}
    assert _without_stamps(got) == _without_stamps(expected)
    stamps = [c["data"].get("timestamp") or c["data"]["update_timestamp"] for c in got]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


async def test_bad_calls_raise_before_anything_is_queued(exponea_server: ExponeaServer) -> None:
    async with _client(exponea_server) as exponea:
        visitor = exponea.customer(cookie="c")
        with pytest.raises(ValueError, match=r"properties\.phone"):
            await visitor.identify("x@y.z", {"phone": "0905 123"})
        assert visitor.customer_ids == {"cookie": "c"}  # ids unchanged by a refused call
        with pytest.raises(ValueError, match="event_type"):
            await visitor.track("")
        with pytest.raises(ValueError, match=r"commands\[0\]\.name"):
            await exponea.send_commands([{"name": "nope", "data": {}}])
        assert exponea.queued == 0
        assert await exponea.flush(2)
    assert exponea_server.commands == []


async def test_send_commands_and_anonymize_customer(exponea_server: ExponeaServer) -> None:
    async with _client(exponea_server) as exponea:
        await exponea.send_commands([{"name": "customers/events", "data": {
            "customer_ids": {"registered": "a"}, "event_type": "x", "properties": {}}}])
        await exponea.anonymize_customer({"registered": "a"})
        assert await exponea.flush(5)
    assert exponea_server.anonymized == [{"registered": "a"}]
    assert exponea_server.events[0]["timestamp"] > 0  # stamped when queued
    public = AsyncExponea(exponea_server.project_token, public_token=exponea_server.public_token,
                          base_url=exponea_server.url)
    with pytest.raises(gee.APIError, match="private access"):
        await public.anonymize_customer({"registered": "b"})
    await public.close()
    assert exponea_server.anonymized == [{"registered": "a"}]


# -- callbacks, refusals, dead letters -----------------------------------------------------------

async def test_sync_and_async_callbacks_and_refusals(exponea_server: ExponeaServer) -> None:
    exponea_server.reject_commands(
        lambda c: "bad event" if c["data"].get("event_type") == "bad" else None)
    seen: list[Any] = []

    async def async_ok() -> None:
        await asyncio.sleep(0)
        seen.append("async ok")

    async def async_error(error: gee.DeliveryError) -> None:
        seen.append(("async error", error.command["data"]["event_type"], error.reason))

    async with _client(exponea_server) as exponea:
        visitor = exponea.customer(registered="u")
        await visitor.track("good", on_success=lambda: seen.append("sync ok"))
        await visitor.track("good", on_success=async_ok)
        await visitor.track("bad", on_error=async_error)
        await visitor.track("bad", on_error=lambda e: seen.append(("sync error", e.reason)))
        assert await exponea.flush(5)
        await asyncio.sleep(0.05)  # async callbacks run as tasks
        dead = await exponea.dead_letters()
    assert sorted(map(str, seen)) == sorted(map(str, [
        "sync ok", "async ok", ("async error", "bad", '["bad event"]'),
        ("sync error", '["bad event"]')]))
    assert [d.command["data"]["event_type"] for d in dead] == ["bad", "bad"]
    assert exponea.stats.accepted == 2 and exponea.stats.failed == 2


async def test_a_raising_async_callback_is_logged_and_the_sender_goes_on(
        exponea_server: ExponeaServer, caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("callback bug")

    async with _client(exponea_server) as exponea:
        await exponea.customer(registered="u").track("a", on_success=broken)
        assert await exponea.flush(5)
        await asyncio.sleep(0.02)
        await exponea.customer(registered="u").track("b")
        assert await exponea.flush(5)
    assert [e["event_type"] for e in exponea_server.events] == ["a", "b"]
    assert any("callback raised" in r.message and r.exc_info for r in caplog.records)


async def test_retries_honour_retry_after_and_final_statuses_fail(
        exponea_server: ExponeaServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    exponea_server.script(Fault(status=429, retry_after=0.2), Fault(status=503), Fault(drop=True))
    async with _client(exponea_server) as exponea:
        started = time.monotonic()
        await exponea.customer(registered="u").track("a", immediate=True)
        assert await exponea.flush(5)
        assert time.monotonic() - started >= 0.2  # waited for Retry-After
        exponea_server.fail_next(400)
        errors: list[gee.DeliveryError] = []
        await exponea.customer(registered="u").track("b", on_error=errors.append)
        assert await exponea.flush(5)
    assert [e["event_type"] for e in exponea_server.events] == ["a"]
    assert [e.status for e in errors] == [400]
    assert exponea.stats.retries == 3 and exponea.stats.failed == 1
    assert "retry 3" in caplog.text and "HTTP 400" in caplog.text
    assert exponea_server.api_secret not in caplog.text


async def test_max_retry_time_ends_in_on_error(exponea_server: ExponeaServer) -> None:
    exponea_server.random_faults(1.0, [Fault(status=500)])
    errors: list[gee.DeliveryError] = []
    async with _client(exponea_server, max_retry_time=0.2) as exponea:
        await exponea.customer(registered="u").track("a", on_error=errors.append)
        assert await exponea.flush(5)
        dead = await exponea.dead_letters()
    assert len(errors) == 1 and errors[0].status == 500
    assert [d.status for d in dead] == [500]


async def test_max_rps_spaces_requests(exponea_server: ExponeaServer) -> None:
    async with _client(exponea_server, max_rps=20) as exponea:
        visitor = exponea.customer(registered="u")
        started = time.monotonic()
        for n in range(4):
            await visitor.track("a", {"n": n}, immediate=True)
            assert await exponea.flush(5)
        elapsed = time.monotonic() - started
    assert len(exponea_server.requests) == 4
    assert elapsed >= 3 / 20 - 0.002  # 4 requests, 1/20 s apart (unlimited: ~10 ms in all)


async def test_batches_are_at_most_fifty(exponea_server: ExponeaServer) -> None:
    async with _client(exponea_server, flush_interval=5) as exponea:
        await asyncio.gather(*(exponea.customer(registered=f"u{n}").track("a", {"n": n})
                               for n in range(120)))
        assert await exponea.flush(5)
    sizes = [r.commands for r in exponea_server.requests]
    assert sum(sizes) == 120 and max(sizes) == 50


# -- 1,000 events through 30% faults -------------------------------------------------------------

@pytest.mark.parametrize("spooled", [False, True], ids=["memory", "spool"])
async def test_a_thousand_events_through_thirty_percent_faults(
        exponea_server: ExponeaServer, tmp_path: Path, spooled: bool) -> None:
    exponea_server.random_faults(0.3, seed=15)
    options = {"spool": tmp_path / "s.db", "spool_synchronous": "normal"} if spooled else {}
    delivered = 0

    def counted() -> None:
        nonlocal delivered
        delivered += 1

    async with _client(exponea_server, **options) as exponea:
        async def producer(k: int) -> None:
            visitor = exponea.customer(registered=f"user{k}")
            for n in range(k, 1000, 10):
                await visitor.track("view", {"n": n}, on_success=counted)

        await asyncio.gather(*(producer(k) for k in range(10)))
        assert await exponea.flush(30)
        assert exponea.stats.retries > 0
    assert {e["properties"]["n"] for e in exponea_server.events} == set(range(1000))
    assert delivered == 1000 and exponea.stats.failed == 0
    if spooled:
        assert gee.Spool(tmp_path / "s.db").counts() == {"pending": 0, "dead": 0}


# -- a spool does not stall the loop -------------------------------------------------------------

_TICKER_APP = """
import asyncio, json, sys, time
from ga_ee_bridge import AsyncExponea

async def main(url, spool):
    late, stop = [], asyncio.Event()

    async def ticker():
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            late.append(time.perf_counter() - before - 0.005)

    async with AsyncExponea("test-project", api_key_id="test-key-id", api_secret="test-secret",
                            base_url=url, spool=spool, flush_interval=0.02) as exponea:
        tick = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)

        async def producer(k):
            visitor = exponea.customer(registered=f"user{k}")
            for n in range(k, 1000, 20):
                await visitor.track("view", {"n": n, "text": "x" * 200})

        started = time.perf_counter()
        await asyncio.gather(*(producer(k) for k in range(20)))
        calls = time.perf_counter() - started
        delivered = await exponea.flush(30)
        stop.set()
        await tick
    print(json.dumps({"late": late, "calls": calls, "delivered": delivered}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_a_five_ms_ticker_is_never_fifty_ms_late_while_spooled_calls_run(
        exponea_server: ExponeaServer, tmp_path: Path) -> None:
    """An app process: a 5 ms ticker on its loop while 1,000 spooled calls (fsync each commit)
    and their delivery run. A fresh process, as a web worker is: the measurement is the client's,
    not a garbage collection of this test session's large heap."""
    out = subprocess.run([sys.executable, "-c", _TICKER_APP, exponea_server.url,
                          str(tmp_path / "s.db")], capture_output=True, text=True, timeout=60,
                         check=True)
    result = json.loads(out.stdout)
    assert result["delivered"] is True
    assert sorted(e["properties"]["n"] for e in exponea_server.events) == list(range(1000))
    late = result["late"]
    assert len(late) > 10
    assert max(late) < 0.050, (f"the loop stalled {max(late) * 1000:.1f} ms "
                               f"({result['calls']:.2f} s of calls)")


async def test_concurrent_spooled_calls_share_commits(
        exponea_server: ExponeaServer, tmp_path: Path) -> None:
    """Group commit: 200 concurrent calls share transactions; 20 calls one after the other take
    one each (counted, not timed: the spool counts the write transactions it commits)."""
    async with _client(exponea_server, spool=tmp_path / "s.db", flush_interval=5) as exponea:
        visitor = exponea.customer(registered="u")
        spool = exponea._sender.spool
        assert spool is not None
        before = spool.commits
        await asyncio.gather(*(visitor.track("a", {"n": n}) for n in range(200)))
        concurrent = spool.commits - before
        before = spool.commits
        for n in range(20):
            await visitor.track("b", {"n": n})
        one_by_one = spool.commits - before
        assert exponea.queued + exponea.stats.accepted == 220
        assert await exponea.flush(10)
    # (the sender's deletes of delivered rows may commit in between: a few more)
    assert concurrent < 50 and one_by_one >= 20, (concurrent, one_by_one)


# -- cancellation, close and the queue -----------------------------------------------------------

async def test_a_call_cancelled_while_waiting_for_room_queues_nothing(
        exponea_server: ExponeaServer) -> None:
    exponea_server.random_faults(1.0, [Fault(delay=0.5)])
    async with _client(exponea_server, max_queue_size=10, queue_timeout=5,
                       flush_interval=5) as exponea:
        visitor = exponea.customer(registered="u")
        for n in range(10):
            await visitor.track("fill", {"n": n})
        waiting = asyncio.create_task(visitor.identify("someone@example.com"))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert visitor.customer_ids == {"registered": "u"}  # not identified: nothing queued
        assert exponea.queued == 10
        exponea_server.reset()
        assert await exponea.flush(10)
    assert exponea.customer  # still usable
    assert not any(c["name"] == "customers" for c in exponea_server.commands)


async def test_a_full_queue_raises_queue_full_error(exponea_server: ExponeaServer) -> None:
    exponea_server.random_faults(1.0, [Fault(delay=0.5)])
    async with _client(exponea_server, max_queue_size=5, queue_timeout=0.05,
                       flush_interval=5) as exponea:
        visitor = exponea.customer(registered="u")
        for _ in range(5):
            await visitor.track("fill")
        with pytest.raises(gee.QueueFullError, match="not queued"):
            await visitor.track("one too many")
        exponea_server.reset()


def _order(n: int) -> dict[str, Any]:
    return {**PURCHASE, "purchase": {**PURCHASE["purchase"], "actionField": {"id": f"T{n}"}}}


async def test_cancelled_spooled_calls_are_all_or_nothing(
        exponea_server: ExponeaServer, tmp_path: Path) -> None:
    """Cancel 300 concurrent calls at random moments: each either arrives whole or raised."""
    async with _client(exponea_server, spool=tmp_path / "s.db") as exponea:
        visitor = exponea.customer(registered="u")
        tasks = [asyncio.create_task(visitor.track_enhanced_ecommerce(_order(n), "purchase"))
                 for n in range(300)]
        await asyncio.sleep(0)
        for n, task in enumerate(tasks):
            if n % 3 == 0:
                task.cancel()
            if n % 30 == 0:
                await asyncio.sleep(0.001)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert await exponea.flush(10)
    completed = {f"T{n}" for n, o in enumerate(outcomes) if o == 3}
    cancelled = {f"T{n}" for n, o in enumerate(outcomes) if isinstance(o, asyncio.CancelledError)}
    assert len(completed) + len(cancelled) == 300 and cancelled
    per_order: dict[str, int] = {}
    for event in exponea_server.events:
        per_order[event["properties"]["transaction_id"]] = per_order.get(
            event["properties"]["transaction_id"], 0) + 1
    assert completed <= set(per_order)  # every completed call arrived
    assert set(per_order.values()) == {3}  # never part of a call


async def test_a_call_cancelled_before_its_write_began_is_withdrawn(
        exponea_server: ExponeaServer, tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with _client(exponea_server, spool=path) as exponea:
        visitors = [exponea.customer(cookie=f"c{n}") for n in range(30)]
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the spool's writer now waits for this lock
        tasks = [asyncio.create_task(visitors[n].identify(f"user{n}@example.com"))
                 for n in range(30)]
        await asyncio.sleep(0.05)  # all waiting: call 0 in the blocked write, the rest behind it
        assert not any(task.done() for task in tasks)
        for n in range(0, 30, 3):
            tasks[n].cancel()
        await asyncio.sleep(0.01)
        blocker.execute("COMMIT")
        blocker.close()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert await exponea.flush(5)
    cancelled = {n for n, o in enumerate(outcomes) if isinstance(o, asyncio.CancelledError)}
    assert cancelled == set(range(0, 30, 3))
    arrived = {c["customer_ids"]["cookie"] for c in exponea_server.customers}
    # call 0's write had begun: it stays queued and arrives; the other cancelled ones queued nothing
    assert arrived == {f"c{n}" for n in range(30) if n == 0 or n not in cancelled}
    assert visitors[3].customer_ids == {"cookie": "c3"}  # withdrawn: not identified
    assert visitors[0].customer_ids == {"cookie": "c0", "registered": "user0@example.com"}


async def test_close_reports_what_it_could_not_deliver(
        exponea_server: ExponeaServer, caplog: pytest.LogCaptureFixture) -> None:
    exponea_server.random_faults(1.0, [Fault(status=503)])
    errors: list[gee.DeliveryError] = []
    exponea = _client(exponea_server, backoff=0.05)
    visitor = exponea.customer(registered="u")
    for n in range(60):
        await visitor.track("a", {"n": n}, on_error=errors.append)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="ga_ee_bridge"):
        assert await exponea.close(timeout=0.3) is False
    assert time.monotonic() - started < 1.5  # within its timeout (plus the cancel)
    assert len(errors) == 60 and all("closed" in e.reason for e in errors)
    assert any(r.levelno == logging.WARNING and "60 command(s) not delivered" in r.getMessage()
               for r in caplog.records)
    with pytest.raises(RuntimeError, match="closed"):
        await visitor.track("late")


async def test_close_with_a_spool_keeps_the_rest_for_the_next_client(
        exponea_server: ExponeaServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    exponea_server.random_faults(1.0, [Fault(status=503)])
    exponea = _client(exponea_server, spool=tmp_path / "s.db")
    for n in range(30):
        await exponea.customer(registered="u").track("a", {"n": n})
    with caplog.at_level(logging.WARNING, logger="ga_ee_bridge"):
        assert await exponea.close(timeout=0.2) is False
    assert any("30 command(s) not yet delivered" in r.getMessage() for r in caplog.records)
    exponea_server.reset()
    async with _client(exponea_server, spool=tmp_path / "s.db") as again:
        assert await again.flush(5)
    assert sorted(e["properties"]["n"] for e in exponea_server.events) == list(range(30))


async def test_one_loop_per_client_and_no_secret_in_repr(exponea_server: ExponeaServer) -> None:
    exponea = _client(exponea_server)
    assert exponea_server.api_secret not in repr(exponea)
    assert repr(exponea.customer(registered="u")) == "AsyncCustomer({'registered': 'u'})"
    await exponea.customer(registered="u").track("a")

    def elsewhere() -> None:
        async def call() -> None:
            await exponea.customer(registered="u").track("b")

        with pytest.raises(RuntimeError, match="another event loop"):
            asyncio.run(call())

    await asyncio.to_thread(elsewhere)
    assert await exponea.close(5)
    assert [e["event_type"] for e in exponea_server.events] == ["a"]


def test_exponea_server_works_in_a_plain_asyncio_test(exponea_server: ExponeaServer) -> None:
    """No async plugin at all: the server fixture is a thread, so asyncio.run() just works."""
    async def scenario() -> None:
        async with _client(exponea_server) as exponea:
            await exponea.customer(registered="u").track("a")

    asyncio.run(scenario())
    assert [e["event_type"] for e in exponea_server.events] == ["a"]


async def test_a_spool_that_cannot_be_written_fails_the_call(exponea_server: ExponeaServer,
                                                             tmp_path: Path) -> None:
    spool = gee.Spool(tmp_path / "s.db")
    exponea = _client(exponea_server, spool=spool)
    visitor = exponea.customer(registered="u")
    await visitor.track("stored")
    spool.close()  # e.g. the disk went away
    with pytest.raises(Exception, match="closed"):
        await visitor.identify("someone@example.com")
    assert visitor.customer_ids == {"registered": "u"}
    assert exponea.queued == 1  # the earlier call only


def test_an_unclosed_client_says_what_it_left_when_the_loop_ends(
        exponea_server: ExponeaServer, caplog: pytest.LogCaptureFixture) -> None:
    exponea_server.random_faults(1.0, [Fault(status=503)])

    async def forgetful() -> None:
        exponea = _client(exponea_server)
        for n in range(3):
            await exponea.customer(registered="u").track("a", {"n": n})
        await asyncio.sleep(0.05)  # no close(): asyncio.run() cancels the sender task

    with caplog.at_level(logging.WARNING, logger="ga_ee_bridge"):
        asyncio.run(forgetful())
    assert any("cancelled with 3 command(s) not delivered" in r.getMessage()
               for r in caplog.records)
