"""The sender against the local server: batching, retries, failures, queue limits, exit, fork."""

from __future__ import annotations

import collections
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import REPO

from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.sender import DeliveryError, QueueFullError
from ga_ee_bridge.send.spool import Spool
from ga_ee_bridge.testing.server import ExponeaServer, Fault

ROOT = REPO
FAST = {"backoff": 0.005, "max_backoff": 0.05, "flush_interval": 0.02}


def client_for(server: ExponeaServer, **options: Any) -> Exponea:
    settings = {**FAST, **options}
    return Exponea(server.project_token, api_key_id=server.api_key_id,
                   api_secret=server.api_secret, base_url=server.url, **settings)


def _key(data: dict) -> str:
    return json.dumps(data, sort_keys=True)


def test_thousand_events_with_a_third_of_requests_failing(exponea_server: ExponeaServer) -> None:
    exponea_server.random_faults(1 / 3, [
        Fault(status=429, retry_after=0.01), Fault(status=500), Fault(drop=True),
        Fault(status=500, process=True), Fault(drop=True, process=True),
    ], seed=4)
    with client_for(exponea_server, timeout=2.0) as client:
        sent = []
        for n in range(1000):
            visitor = client.customer(registered=f"user{n % 37}")
            visitor.track("view", {"n": n})
            sent.append(n)
        assert client.flush(30)
        stats = client.stats
    received = exponea_server.events
    by_n: dict[int, list[dict]] = collections.defaultdict(list)
    for event in received:
        by_n[event["properties"]["n"]].append(event)
    assert sorted(by_n) == sent  # none lost, none invented
    for copies in by_n.values():  # duplicates only as identical copies (server dedup is safe)
        assert len({_key(c) for c in copies}) == 1
    faults = [r for r in exponea_server.requests if r.fault not in (None, "none")]
    assert len(faults) >= len(exponea_server.requests) / 5
    assert len(received) > 1000  # the processed-then-failed faults did make duplicates
    assert stats.failed == 0 and stats.accepted == 1000 and stats.retries == len(faults)


def test_batches_of_at_most_50(exponea_server: ExponeaServer) -> None:
    with client_for(exponea_server, flush_interval=1.0) as client:
        visitor = client.customer(cookie="c")
        for n in range(120):
            visitor.track("view", {"n": n})
        assert client.flush(10)
    sizes = [r.commands for r in exponea_server.requests]
    assert sum(sizes) == 120 and max(sizes) == 50


def test_waits_for_interval_unless_immediate(exponea_server: ExponeaServer) -> None:
    with client_for(exponea_server, flush_interval=0.6) as client:
        visitor = client.customer(cookie="c")
        started = time.monotonic()
        visitor.track("slow")
        while not exponea_server.events:
            time.sleep(0.01)
        assert time.monotonic() - started >= 0.55
        done = threading.Event()
        started = time.monotonic()
        visitor.track("fast", on_success=done.set, immediate=True)
        assert done.wait(5)
        assert time.monotonic() - started < 0.4


def test_retries_resend_identical_commands(exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(status=500, process=True), Fault(drop=True, process=True))
    with client_for(exponea_server) as client:
        client.customer(cookie="c").track("purchase", {"total": 7.99})
        assert client.flush(5)
    events = exponea_server.events
    assert len(events) == 3
    assert events[0] == events[1] == events[2]


def test_retry_after_is_honoured(exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(status=429, retry_after=0.4))
    with client_for(exponea_server) as client:
        client.customer(cookie="c").track("view", immediate=True)
        assert client.flush(5)
    first, second = exponea_server.requests
    assert second.at - first.at >= 0.39
    assert second.status == 200


def test_401_reaches_on_error_log_and_dead_letters(exponea_server: ExponeaServer,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[DeliveryError] = []
    client = Exponea(exponea_server.project_token, api_key_id=exponea_server.api_key_id,
                     api_secret="wrong-secret-xyz", base_url=exponea_server.url, **FAST)
    with client:
        client.customer(cookie="c").track("view", {"n": 1}, on_error=errors.append,
                                          on_success=lambda: errors.append("ok"))  # type: ignore
        assert client.flush(5)
        dead = client.dead_letters()
    assert len(errors) == 1 and errors[0].status == 401
    assert errors[0].command["data"]["properties"] == {"n": 1}
    assert len(exponea_server.requests) == 1  # not retried
    assert [d.status for d in dead] == [401]
    assert dead[0].command == errors[0].command
    assert any(r.levelno == logging.ERROR and "401" in r.getMessage() for r in caplog.records)
    assert "wrong-secret-xyz" not in caplog.text and "wrong-secret-xyz" not in repr(client)


def test_secret_never_in_logs(exponea_server: ExponeaServer,
                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    exponea_server.script(Fault(status=500), Fault(drop=True), Fault(status=400))
    with client_for(exponea_server) as client:
        visitor = client.customer(cookie="c")
        for n in range(3):
            visitor.track("view", {"n": n}, immediate=True)
            client.flush(5)
        text = caplog.text + repr(client) + repr(client._api) + repr(client._sender)
    assert exponea_server.api_secret not in text
    assert client._api.credentials.header.split()[1] not in text
    assert "retry" in caplog.text and "not delivered" in caplog.text


def test_per_command_failures_are_matched_to_their_calls(exponea_server: ExponeaServer) -> None:
    exponea_server.reject_commands(
        lambda c: "bad event" if c["data"].get("event_type") == "bad" else None)
    outcomes: dict[str, Any] = {}
    with client_for(exponea_server, flush_interval=0.5) as client:
        visitor = client.customer(cookie="c")
        for name in ("good1", "bad", "good2"):
            visitor.track(name, on_success=lambda n=name: outcomes.setdefault(n, "ok"),
                          on_error=lambda e, n=name: outcomes.setdefault(n, e))
        assert client.flush(5)
    assert len(exponea_server.requests) == 1  # one batch
    assert outcomes["good1"] == outcomes["good2"] == "ok"
    assert isinstance(outcomes["bad"], DeliveryError) and outcomes["bad"].reason == '["bad event"]'
    assert [d.reason for d in client.dead_letters()] == ['["bad event"]']


def test_out_of_retry_time_fails(exponea_server: ExponeaServer) -> None:
    exponea_server.random_faults(1.0, [Fault(status=503)])
    errors: list[DeliveryError] = []
    with client_for(exponea_server, max_retry_time=0.3) as client:
        client.customer(cookie="c").track("view", on_error=errors.append)
        assert client.flush(5)
    assert [e.status for e in errors] == [503]
    assert len(exponea_server.requests) > 2
    assert client.stats.failed == 1


def test_queue_full_waits_then_raises(exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(delay=1.0))  # the consumer is stuck in the first request
    with client_for(exponea_server, max_queue_size=5, queue_timeout=0.2) as client:
        visitor = client.customer(cookie="c")
        visitor.track("first", immediate=True)
        while not exponea_server.requests and client.queued and client._sender._ready:
            time.sleep(0.01)
        time.sleep(0.1)
        for n in range(5):
            visitor.track("queued", {"n": n})
        started = time.monotonic()
        with pytest.raises(QueueFullError, match="stayed full"):
            visitor.track("refused")
        assert 0.19 <= time.monotonic() - started < 1.0
        assert client.flush(10)
    names = [e["event_type"] for e in exponea_server.events]
    assert names.count("queued") == 5 and "refused" not in names


def test_queue_full_caller_gets_in_when_room_frees(exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(delay=0.3))
    with client_for(exponea_server, max_queue_size=2, queue_timeout=5.0) as client:
        visitor = client.customer(cookie="c")
        visitor.track("a", immediate=True)
        time.sleep(0.1)
        for n in range(4):  # waits for room instead of failing
            visitor.track("b", {"n": n})
        assert client.flush(10)
    assert len(exponea_server.events) == 5


def test_close_flushes_and_refuses_new_calls(exponea_server: ExponeaServer) -> None:
    client = client_for(exponea_server, flush_interval=5.0)
    visitor = client.customer(cookie="c")
    visitor.track("view")
    assert client.close(5) is True
    assert len(exponea_server.events) == 1
    with pytest.raises(RuntimeError, match="closed"):
        visitor.track("view")


def test_close_timeout_fails_undelivered_without_spool(exponea_server: ExponeaServer) -> None:
    exponea_server.random_faults(1.0, [Fault(status=503)])
    errors: list[DeliveryError] = []
    client = client_for(exponea_server, backoff=0.2, max_backoff=0.2)
    visitor = client.customer(cookie="c")
    for n in range(3):
        visitor.track("view", {"n": n}, on_error=errors.append)
    assert client.close(0.3) is False
    assert len(errors) == 3  # never silent
    assert all("closed" in e.reason for e in errors)
    assert len(client.dead_letters()) == 3


def _run_script(code: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


EXIT_SCRIPT = """
    import logging, sys
    logging.basicConfig(level=logging.WARNING)
    from ga_ee_bridge import Exponea
    url, exit_timeout = sys.argv[1], float(sys.argv[2])
    client = Exponea("test-project", api_key_id="test-key-id", api_secret="test-secret",
                     base_url=url, flush_interval=10.0, exit_timeout=exit_timeout)
    client.customer(cookie="c").track("at-exit")
    # no flush, no close: the interpreter exit must deliver it
"""


def test_interpreter_exit_flushes(exponea_server: ExponeaServer) -> None:
    result = _run_script(EXIT_SCRIPT, exponea_server.url, "5")
    assert result.returncode == 0, result.stderr
    assert [e["event_type"] for e in exponea_server.events] == ["at-exit"]


def test_interpreter_exit_flush_is_bounded(exponea_server: ExponeaServer) -> None:
    exponea_server.random_faults(1.0, [Fault(status=503)])
    started = time.monotonic()
    result = _run_script(EXIT_SCRIPT, exponea_server.url, "0.5")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 8
    assert "not delivered" in result.stderr or "closed" in result.stderr


def test_fork_child_tracks_and_flushes(exponea_server: ExponeaServer) -> None:
    client = client_for(exponea_server, flush_interval=0.5)
    try:
        visitor = client.customer(cookie="parent")
        visitor.track("before-fork")
        assert client._sender._thread is not None  # the parent's thread runs
        pid = os.fork()
        if pid == 0:  # the child: its own queue, thread and connections
            code = 1
            try:
                child = client.customer(cookie="child")
                child.track("in-child", {"pid": os.getpid()})
                code = 0 if client.flush(10) and client.queued == 0 else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        visitor.track("after-fork")
        assert client.flush(10)
    finally:
        client.close(5)
    names = [e["event_type"] for e in exponea_server.events]
    assert sorted(names) == ["after-fork", "before-fork", "in-child"]  # nothing sent twice
    child_event = next(e for e in exponea_server.events if e["event_type"] == "in-child")
    assert child_event["properties"]["pid"] == pid


@pytest.mark.parametrize("holder", ["sender", "spool"])
def test_ctrl_c_as_a_wait_takes_its_lock_back_cannot_break_the_lock(
        holder: str, exponea_server: ExponeaServer, tmp_path: Path) -> None:
    # CPython gh-118433: with a plain Lock, Condition.wait takes the lock back in a Python
    # method, where a KeyboardInterrupt can land before the lock is taken; the ``with`` then
    # releases an unlocked lock and Ctrl-C ends in "internal error: RuntimeError". A tracer
    # raising at that method's first line puts the interrupt exactly there, every time.
    client = client_for(exponea_server, spool=Spool(tmp_path / "s.db"))
    condition = client._sender._cond if holder == "sender" else client.spool._group

    def interrupt(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == "_acquire_restore":
            raise KeyboardInterrupt

    before = sys.gettrace()
    sys.settrace(interrupt)
    try:
        with condition:
            condition.wait(0.001)
    except KeyboardInterrupt:
        pass  # a Ctrl-C may end the wait, as long as the lock is left as it was
    finally:
        sys.settrace(before)
    assert condition.acquire(blocking=False)  # not left held, nor released twice
    condition.release()
    client.close(0)
