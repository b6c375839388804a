"""kill -9 of a process tracking through AsyncExponea with a spool: nothing it acknowledged is lost.

A real child process tracks events one after another and prints each number once ``track()`` has
returned; the test kills it with SIGKILL mid-stream, then a new client on the same spool (in this
process) must deliver every acknowledged event.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ga_ee_bridge import AsyncExponea, Spool
from ga_ee_bridge.testing.server import ExponeaServer

_CHILD = """
import asyncio, sys
from ga_ee_bridge import AsyncExponea

async def main(url, spool):
    async with AsyncExponea("test-project", api_key_id="test-key-id", api_secret="test-secret",
                            base_url=url, spool=spool, flush_interval=0.01, backoff=0.01,
                            max_backoff=0.05) as exponea:
        visitor = exponea.customer(registered="crash")
        n = 0
        while True:
            await visitor.track("event", {"n": n})
            print(n, flush=True)
            n += 1

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.parametrize("fault_rate", [0.3, 1.0], ids=["some-delivered", "server-down"])
def test_kill_9_loses_nothing_acknowledged(exponea_server: ExponeaServer, tmp_path: Path,
                                           fault_rate: float) -> None:
    spool = tmp_path / "spool.db"
    exponea_server.random_faults(fault_rate, seed=9)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, exponea_server.url, str(spool)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    last = -1
    try:
        for line in child.stdout:
            last = int(line)
            if last >= 200:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL and last >= 200
    before = {e["properties"]["n"] for e in exponea_server.events}
    if fault_rate == 1.0:
        assert before == set()
    else:
        assert before and len(before) <= last + 1  # some went out before the kill
    assert Spool(spool).counts()["pending"] > 0  # ...and the rest waited on disk

    exponea_server.random_faults(0)

    async def restart() -> bool:
        async with AsyncExponea(exponea_server.project_token, api_key_id=exponea_server.api_key_id,
                                api_secret=exponea_server.api_secret, base_url=exponea_server.url,
                                spool=spool, flush_interval=0.01) as exponea:
            return await exponea.flush(20)

    assert asyncio.run(restart())
    delivered = {e["properties"]["n"] for e in exponea_server.events}
    assert set(range(last + 1)) <= delivered
    assert Spool(spool).counts() == {"pending": 0, "dead": 0}


def test_a_client_made_before_fork_tracks_in_the_child(exponea_server: ExponeaServer,
                                                       tmp_path: Path) -> None:
    """gunicorn --preload: the client exists (here even used) before the fork; each child gets
    it unbound, with its own spool connection and owner, and tracks on its own loop."""
    exponea = AsyncExponea(exponea_server.project_token, api_key_id=exponea_server.api_key_id,
                           api_secret=exponea_server.api_secret, base_url=exponea_server.url,
                           spool=tmp_path / "spool.db", flush_interval=0.01)

    async def use(event_type: str, close: bool) -> bool:
        await exponea.customer(registered=event_type).track(event_type)
        delivered = await exponea.flush(10)
        return await exponea.close(5) if close else delivered

    assert asyncio.run(use("parent", close=False))  # bound to a loop that is now gone
    pid = os.fork()
    if pid == 0:  # the child: its own loop
        code = 1
        try:
            code = 0 if asyncio.run(use("child", close=True)) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sorted(e["event_type"] for e in exponea_server.events) == ["child", "parent"]
    assert Spool(tmp_path / "spool.db").counts() == {"pending": 0, "dead": 0}
