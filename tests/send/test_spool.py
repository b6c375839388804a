"""The durable spool: on disk before returning, gone only when accepted, survivors resent."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from support import REPO

from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.spool import Spool
from ga_ee_bridge.testing.server import ExponeaServer, Fault

ROOT = REPO
FAST = {"backoff": 0.005, "max_backoff": 0.05, "flush_interval": 0.02}


def _command(n: int) -> dict[str, Any]:
    return {"name": "customers/events", "data": {
        "customer_ids": {"cookie": "c"}, "event_type": "view", "timestamp": 100.0 + n,
        "properties": {"n": n}}}


def client_for(server: ExponeaServer, spool: Path | Spool, **options: Any) -> Exponea:
    return Exponea(server.project_token, api_key_id=server.api_key_id,
                   api_secret=server.api_secret, base_url=server.url, spool=spool,
                   **{**FAST, **options})


def test_add_take_finish(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    ids = spool.add([_command(1), _command(2), _command(3)])
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [c["data"]["properties"]["n"] for _, c in spool.take(2)] == [1, 2]
    assert [i for i, _ in spool.take(10, after=ids[0])] == ids[1:]
    spool.finish([ids[0]], [(ids[1], 400, "bad")])
    assert spool.counts() == {"pending": 1, "dead": 1}
    [letter] = spool.dead_letters()
    assert (letter.id, letter.status, letter.reason) == (ids[1], 400, "bad")
    assert letter.command == _command(2)
    assert [i for i, _ in spool.take(10)] == [ids[2]]
    spool.close()


def test_commands_survive_reopening(tmp_path: Path) -> None:
    first = Spool(tmp_path / "s.db")
    first.add([_command(1)], meta=("progress", "7"))
    first.close()
    second = Spool(tmp_path / "s.db")
    assert second.counts()["pending"] == 1
    assert second.get_meta("progress") == "7"
    assert second.claim_orphans() == 1  # the first owner is gone (closed)
    assert [c for _, c in second.take(5)] == [_command(1)]
    second.close()


def test_live_owner_keeps_its_commands(tmp_path: Path) -> None:
    alive = Spool(tmp_path / "s.db")
    alive.add([_command(1)])
    other = Spool(tmp_path / "s.db")
    assert other.claim_orphans() == 0
    assert other.take(5) == []
    alive.close()
    assert other.claim_orphans() == 1
    other.close()


def test_ids_are_never_reused(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    [first] = spool.add([_command(1)])
    spool.finish([first])
    [second] = spool.add([_command(2)])
    assert second > first
    spool.close()


def test_retry_puts_dead_letters_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    ids = spool.add([_command(1), _command(2)])
    spool.finish([], [(i, 400, "bad") for i in ids])
    assert spool.retry([ids[0]]) == 1
    assert spool.counts() == {"pending": 1, "dead": 1}
    assert spool.retry() == 1
    assert spool.counts() == {"pending": 2, "dead": 0}
    assert spool.claim_orphans() == 2
    spool.close()


def test_client_with_spool_delivers_and_empties_it(exponea_server: ExponeaServer,
                                                  tmp_path: Path) -> None:
    exponea_server.script(Fault(status=500), Fault(drop=True))
    ok: list[int] = []
    with client_for(exponea_server, tmp_path / "s.db") as client:
        visitor = client.customer(cookie="c")
        for n in range(120):
            visitor.track("view", {"n": n}, on_success=lambda n=n: ok.append(n))
        assert client.flush(10)
    assert sorted(ok) == list(range(120))
    assert sorted(e["properties"]["n"] for e in exponea_server.events) == list(range(120))
    spool = Spool(tmp_path / "s.db")
    assert spool.counts() == {"pending": 0, "dead": 0}
    spool.close()


def test_call_returns_once_on_disk(exponea_server: ExponeaServer, tmp_path: Path) -> None:
    exponea_server.random_faults(1.0, [Fault(status=503)])
    client = client_for(exponea_server, tmp_path / "s.db", backoff=1.0, max_backoff=1.0)
    client.customer(cookie="c").track("view", {"n": 1})
    reader = Spool(tmp_path / "s.db")  # another connection sees it at once
    assert reader.counts()["pending"] == 1
    assert client.close(0.1) is False  # undelivered: stays on disk, not a dead letter
    assert reader.counts() == {"pending": 1, "dead": 0}
    exponea_server.random_faults(0.0)
    with client_for(exponea_server, tmp_path / "s.db") as again:  # the next start sends it
        assert again.flush(5)
    assert [e["properties"] for e in exponea_server.events] == [{"n": 1}]
    assert reader.counts()["pending"] == 0
    reader.close()


def test_refused_commands_become_dead_letters_on_disk(exponea_server: ExponeaServer,
                                                      tmp_path: Path) -> None:
    exponea_server.reject_commands(lambda c: "nope" if c["data"]["event_type"] == "bad" else None)
    with client_for(exponea_server, tmp_path / "s.db") as client:
        visitor = client.customer(cookie="c")
        visitor.track("bad")
        visitor.track("good")
        assert client.flush(5)
        assert [d.reason for d in client.dead_letters()] == ['["nope"]']
    spool = Spool(tmp_path / "s.db")
    assert spool.counts() == {"pending": 0, "dead": 1}
    assert spool.dead_letters()[0].command["data"]["event_type"] == "bad"
    spool.close()


KILL_SCRIPT = """
    import sys
    from ga_ee_bridge import Exponea
    url, spool = sys.argv[1], sys.argv[2]
    client = Exponea("test-project", api_key_id="test-key-id", api_secret="test-secret",
                     base_url=url, spool=spool, flush_interval=0.01, backoff=0.01)
    visitor = client.customer(cookie="c")
    for n in range(500):
        visitor.track("view", {"n": n})
        if n == 499:
            print("queued", flush=True)
    import time
    time.sleep(60)
"""


def test_sigkill_mid_send_then_restart_loses_nothing(exponea_server: ExponeaServer,
                                                     tmp_path: Path) -> None:
    # Two batches pass, the third is processed but its answer lost, and its retry hangs: the
    # process dies with accepted, half-accepted and unsent commands.
    exponea_server.script(None, None, Fault(drop=True, process=True),
                          Fault(delay=10, drop=True))
    spool_path = tmp_path / "spool.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILL_SCRIPT), exponea_server.url, str(spool_path)],
        env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "queued"
    deadline = time.monotonic() + 15
    while len(exponea_server.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.1)  # the fourth request is hanging now
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    child.stdout.close()
    before = {e["properties"]["n"] for e in exponea_server.events}
    assert 0 < len(before) < 500, "the kill should land mid-send"

    with client_for(exponea_server, spool_path) as restarted:
        assert restarted.flush(20)
    by_n: dict[int, list[str]] = collections.defaultdict(list)
    for event in exponea_server.events:
        by_n[event["properties"]["n"]].append(repr(sorted(event.items())))
    assert sorted(by_n) == list(range(500))  # nothing lost
    assert all(len(set(copies)) == 1 for copies in by_n.values())  # duplicates are identical
    spool = Spool(spool_path)
    assert spool.counts() == {"pending": 0, "dead": 0}
    spool.close()


def test_fork_child_gets_its_own_spool_owner(exponea_server: ExponeaServer,
                                             tmp_path: Path) -> None:
    client = client_for(exponea_server, tmp_path / "s.db")
    try:
        client.customer(cookie="parent").track("parent")
        assert client.flush(5)
        parent_owner = client.spool.owner if client.spool else ""
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                assert client.spool is not None
                child_ok = client.spool.owner != parent_owner
                client.customer(cookie="child").track("child")
                code = 0 if client.flush(10) and child_ok else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        client.customer(cookie="parent").track("parent-again")
        assert client.flush(5)
    finally:
        client.close(5)
    assert sorted(e["event_type"] for e in exponea_server.events) == [
        "child", "parent", "parent-again"]


def test_bad_synchronous_value(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        Spool(tmp_path / "s.db", synchronous="off")
