"""AsyncExponea keeps the sync client's delivery contract (issue 10) through the same code.

command_id on every command and results matched by it, batches bounded in bytes, NOT_DELIVERED to
``on_error`` at close (and at exit for a client never closed), spool faults as SpoolError.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ga_ee_bridge.errors import DeliveryError, SpoolError
from ga_ee_bridge.send.async_client import AsyncExponea
from ga_ee_bridge.send.spool import Spool
from ga_ee_bridge.testing.server import ExponeaServer, Fault

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
FAST = {"backoff": 0.005, "max_backoff": 0.05, "flush_interval": 0.02}
BIG = {f"p{i}": "z" * 8000 for i in range(4)}  # ~32 KB an event


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client(server: ExponeaServer, **options: Any) -> AsyncExponea:
    return AsyncExponea(server.project_token, api_key_id=server.api_key_id,
                        api_secret=server.api_secret, base_url=server.url, **{**FAST, **options})


async def test_every_command_has_a_command_id_and_refusals_reach_their_call(
        exponea_server: ExponeaServer) -> None:
    exponea_server.reject_commands(
        lambda c: "bad event" if c["data"].get("event_type") == "bad" else None)
    outcomes: dict[str, Any] = {}
    async with _client(exponea_server, flush_interval=0.5) as exponea:
        visitor = exponea.customer(cookie="c")
        for name in ("good1", "bad", "good2"):
            await visitor.track(name, on_success=lambda n=name: outcomes.setdefault(n, "ok"),
                                on_error=lambda e, n=name: outcomes.setdefault(n, e))
        await exponea.send_commands([{"name": "customers/events", "command_id": "mine-1",
                                      "data": {"customer_ids": {"cookie": "c"},
                                               "event_type": "own"}}])
        assert await exponea.flush(5)
        dead = await exponea.dead_letters()
    ids = [c.get("command_id") for c in exponea_server.commands]  # the accepted ones
    assert all(ids) and len(set(ids)) == 3 and "mine-1" in ids
    assert outcomes["bad"].command["command_id"] not in ids
    assert outcomes["good1"] == outcomes["good2"] == "ok"
    assert isinstance(outcomes["bad"], DeliveryError) and outcomes["bad"].reason == '["bad event"]'
    assert [d.reason for d in dead] == ['["bad event"]']


@pytest.mark.parametrize("spooled", [False, True])
async def test_batches_are_bounded_in_bytes(exponea_server: ExponeaServer, tmp_path: Path,
                                            spooled: bool) -> None:
    chunk = {f"p{i}": "y" * 13_000 for i in range(8)}  # ~104 KB a command
    spool = {"spool": tmp_path / "b.db"} if spooled else {}
    async with _client(exponea_server, max_batch_bytes=300_000, flush_interval=1.0,
                       **spool) as exponea:
        visitor = exponea.customer(cookie="c")
        for n in range(5):
            await visitor.track("big", {**chunk, "n": n})
        assert await exponea.flush(10)
    assert [r.commands for r in exponea_server.requests] == [2, 2, 1]
    assert sorted(e["properties"]["n"] for e in exponea_server.events) == list(range(5))


async def test_a_batch_in_flight_at_close_reaches_on_error_once(
        exponea_server: ExponeaServer, caplog: pytest.LogCaptureFixture) -> None:
    exponea_server.script(Fault(delay=0.8))  # the answer comes after close() gave up
    errors: list[DeliveryError] = []
    successes: list[int] = []
    exponea = _client(exponea_server)
    visitor = exponea.customer(cookie="c")
    for n in range(3):
        await visitor.track("view", {"n": n}, on_error=errors.append,
                            on_success=lambda: successes.append(1), immediate=True)
    await asyncio.sleep(0.2)  # the batch is on the wire, waiting for its answer
    with caplog.at_level(logging.WARNING, "ga_ee_bridge"):
        assert await exponea.close(0.1) is False
    assert len(errors) == 3
    assert all("not delivered before exit" in e.reason for e in errors)
    assert sorted(e.command["data"]["properties"]["n"] for e in errors) == [0, 1, 2]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "3 command(s) not delivered before exit" in \
        warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno == logging.ERROR]  # one line, not three
    assert len(await exponea.dead_letters()) == 3
    await asyncio.sleep(0.9)
    assert successes == [] and len(errors) == 3


async def test_a_full_spool_is_a_spool_error_and_the_sender_goes_on(
        exponea_server: ExponeaServer, tmp_path: Path) -> None:
    path = tmp_path / "small.db"
    exponea_server.script(Fault(delay=0.5))  # nothing is delivered while we fill the spool
    exponea = _client(exponea_server, spool=Spool(path, max_bytes=512 * 1024))
    visitor = exponea.customer(cookie="c")
    stored = None
    for n in range(400):
        try:
            await visitor.track("big", {**BIG, "n": n})
        except SpoolError as error:
            assert error.path == str(path) and error.cause == "disk full"
            stored = n
            break
    assert stored is not None, "the spool never filled up"
    assert await exponea.flush(10)  # what was stored is delivered; the task did not die
    for n in range(1000, 1003):  # room again: the calls succeed
        await visitor.track("big", {**BIG, "n": n})
    assert await exponea.close(10)
    got = sorted(e["properties"]["n"] for e in exponea_server.events)
    assert got == [*range(stored), 1000, 1001, 1002]


EXIT_SCRIPT = """
    import asyncio, logging, sys
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    from ga_ee_bridge import AsyncExponea

    async def main():
        exponea = AsyncExponea("test-project", api_key_id="test-key-id",
                               api_secret="test-secret", base_url=sys.argv[1])
        await exponea.customer(cookie="c").track(
            "at-exit", immediate=True, on_error=lambda e: print("ON_ERROR", e.reason))
        await asyncio.sleep(0.2)  # in flight when the loop ends; never closed

    asyncio.run(main())
"""


def test_a_client_never_closed_reports_at_interpreter_exit(exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(delay=3))
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(EXIT_SCRIPT),
                             exponea_server.url], env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ON_ERROR not delivered before exit") == 1
    assert "1 command(s) not delivered before exit" in result.stderr
    assert "Traceback" not in result.stderr
