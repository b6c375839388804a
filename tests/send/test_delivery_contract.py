"""Nothing undelivered is silent (issue 10, findings 2 and 3): close, exit, forked children."""

from __future__ import annotations

import collections
import logging
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
from support import REPO

from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.sender import DeliveryError
from ga_ee_bridge.testing.server import ExponeaServer, Fault

FAST = {"backoff": 0.005, "max_backoff": 0.05, "flush_interval": 0.02}


def client_for(server: ExponeaServer, **options: Any) -> Exponea:
    return Exponea(server.project_token, api_key_id=server.api_key_id,
                   api_secret=server.api_secret, base_url=server.url, **{**FAST, **options})


def test_a_batch_in_flight_at_close_reaches_on_error(exponea_server: ExponeaServer,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    exponea_server.script(Fault(delay=0.8))  # the answer comes after close() gave up
    errors: list[DeliveryError] = []
    successes: list[int] = []
    client = client_for(exponea_server)
    visitor = client.customer(cookie="c")
    for n in range(3):
        visitor.track("view", {"n": n}, on_error=errors.append,
                      on_success=lambda: successes.append(1), immediate=True)
    time.sleep(0.2)  # the batch is on the wire, waiting for its answer
    with caplog.at_level(logging.WARNING, "ga_ee_bridge"):
        assert client.close(0.1) is False
    assert len(errors) == 3
    assert all("not delivered before exit" in e.reason for e in errors)
    assert sorted(e.command["data"]["properties"]["n"] for e in errors) == [0, 1, 2]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "3 command(s) not delivered before exit" in \
        warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno == logging.ERROR]  # one line, not three
    assert len(client.dead_letters()) == 3
    time.sleep(1.0)  # the late answer arrives: each command was settled once, as failed
    assert successes == [] and len(errors) == 3


EXIT_SCRIPT = """
    import logging, sys, time
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    from ga_ee_bridge import Exponea
    client = Exponea("test-project", api_key_id="test-key-id", api_secret="test-secret",
                     base_url=sys.argv[1], exit_timeout=0.3)
    client.customer(cookie="c").track("at-exit", immediate=True,
                                      on_error=lambda e: print("ON_ERROR", e.reason))
    time.sleep(0.2)  # in flight when the interpreter exits
"""


def test_in_flight_at_interpreter_exit_reaches_on_error(exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(delay=3))
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(EXIT_SCRIPT),
                             exponea_server.url], env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "ON_ERROR not delivered before exit" in result.stdout
    assert result.stderr.count("WARNING") == 1
    assert "1 command(s) not delivered before exit" in result.stderr


_POOL_CLIENT: Exponea | None = None


def _track_in_worker(n: int) -> int:
    assert _POOL_CLIENT is not None
    _POOL_CLIENT.customer(registered=f"u{n % 13}").track("pool", {"n": n})
    return os.getpid()


@pytest.mark.parametrize("maxtasksperchild", [None, 100])
def test_pool_of_4_workers_delivers_800_events_without_a_spool(
        exponea_server: ExponeaServer, maxtasksperchild: int | None) -> None:
    global _POOL_CLIENT
    _POOL_CLIENT = client_for(exponea_server, flush_interval=30.0)  # only full batches leave
    try:
        pool = multiprocessing.get_context("fork").Pool(4, maxtasksperchild=maxtasksperchild)
        try:
            pids = pool.map(_track_in_worker, range(800), chunksize=7)
        finally:
            pool.close()
            pool.join()
    finally:
        _POOL_CLIENT.close(5)
        _POOL_CLIENT = None
    assert os.getpid() not in pids  # tracked in the workers (however the tasks were spread)
    counts = collections.Counter(e["properties"]["n"] for e in exponea_server.events)
    assert sorted(counts) == list(range(800)) and max(counts.values()) == 1


def _process_child(server_url: str) -> None:
    assert _POOL_CLIENT is not None
    for n in range(7):
        _POOL_CLIENT.customer(cookie="p").track("process", {"n": n})


def test_a_multiprocessing_process_child_delivers_without_a_spool(
        exponea_server: ExponeaServer) -> None:
    global _POOL_CLIENT
    _POOL_CLIENT = client_for(exponea_server, flush_interval=30.0)
    try:
        child = multiprocessing.get_context("fork").Process(target=_process_child,
                                                            args=(exponea_server.url,))
        child.start()
        child.join(20)
        assert child.exitcode == 0
    finally:
        _POOL_CLIENT.close(5)
        _POOL_CLIENT = None
    assert sorted(e["properties"]["n"] for e in exponea_server.events) == list(range(7))


def test_in_memory_dead_letters_are_bounded_and_say_so(
        exponea_server: ExponeaServer, caplog: pytest.LogCaptureFixture) -> None:
    exponea_server.reject_commands(lambda c: "refused")
    with client_for(exponea_server) as client, caplog.at_level(logging.WARNING, "ga_ee_bridge"):
        visitor = client.customer(cookie="c")
        for n in range(1003):
            visitor.track("view", {"n": n})
        assert client.flush(20)
        assert client.stats.failed == 1003 and client.stats.dead_letters_dropped == 3
        letters = client.dead_letters()
    assert len(letters) == 1000 and letters[0].command["data"]["properties"]["n"] == 3
    assert sum("dead letters in memory" in r.getMessage() for r in caplog.records) == 1


def test_a_billiard_process_child_delivers_without_a_spool(exponea_server: ExponeaServer) -> None:
    import billiard

    global _POOL_CLIENT
    _POOL_CLIENT = client_for(exponea_server, flush_interval=30.0)
    try:
        child = billiard.get_context("fork").Process(target=_process_child,
                                                     args=(exponea_server.url,))
        child.start()
        child.join(20)
        assert child.exitcode == 0
    finally:
        _POOL_CLIENT.close(5)
        _POOL_CLIENT = None
    assert sorted(e["properties"]["n"] for e in exponea_server.events) == list(range(7))


def test_celery_prefork_children_deliver_without_a_spool(exponea_server: ExponeaServer) -> None:
    """The pool Celery's prefork worker runs: billiard's Pool with Celery's process destructor."""
    import billiard.pool
    from celery.concurrency.prefork import process_destructor

    global _POOL_CLIENT
    _POOL_CLIENT = client_for(exponea_server, flush_interval=30.0)
    try:
        pool = billiard.pool.Pool(2, on_process_exit=process_destructor)
        try:
            pool.map(_track_in_worker, range(120), chunksize=7)
        finally:
            pool.close()
            pool.join()
    finally:
        _POOL_CLIENT.close(5)
        _POOL_CLIENT = None
    counts = collections.Counter(e["properties"]["n"] for e in exponea_server.events)
    assert sorted(counts) == list(range(120)) and max(counts.values()) == 1
