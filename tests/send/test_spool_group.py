"""Issue 13: the sender's deletes share the writers' group commits, a full spool still takes the
writes that fit, callers in a loop are waited for, and commands are encoded without copies."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ga_ee_bridge.errors import SpoolError
from ga_ee_bridge.send import spool as spool_module
from ga_ee_bridge.send.calls import command_id_of, encode_items
from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.policy import CommandIds
from ga_ee_bridge.send.spool import Spool
from ga_ee_bridge.testing.server import ExponeaServer

COMMAND = {"name": "customers/events", "data": {"customer_ids": {"cookie": "c"}}}


def _gated(spool: Spool, *, delay: float = 0.0) -> tuple[threading.Event, threading.Event,
                                                          list[int]]:
    """Make the spool's first transaction wait for a gate; log every transaction's writes."""
    gate, entered = threading.Event(), threading.Event()
    sizes: list[int] = []
    original: Callable[..., None] = spool._transact

    def transact(writes: list[Any], owner: str) -> None:
        sizes.append(len(writes))
        if not entered.is_set():
            entered.set()
            assert gate.wait(10)
        time.sleep(delay)
        original(writes, owner)

    spool._transact = transact  # type: ignore[method-assign]
    return gate, entered, sizes


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_finish_shares_the_next_group_transaction_with_writers(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", synchronous="full")
    ids = spool.add([{"n": n} for n in range(4)])
    gate, entered, sizes = _gated(spool)
    first = _thread(lambda: spool.add([{"n": 10}]))  # leads, held at the gate
    assert entered.wait(10)
    finisher = _thread(lambda: spool.finish(ids[:2], [(ids[2], 400, "bad")]))
    writer = _thread(lambda: spool.add([{"n": 11}, {"n": 12}]))
    _wait_for(lambda: len(spool._waiting) == 2)
    gate.set()
    for thread in (first, finisher, writer):
        thread.join(10)
    assert sizes == [1, 2]  # the deletes went in with the writer's rows: one fsync for both
    assert [c["n"] for _, c in spool.take(10)] == [3, 10, 11, 12]
    assert [(d.command["n"], d.status, d.reason) for d in spool.dead_letters()] == [
        (2, 400, "bad")]
    spool.close()
    reopened = Spool(tmp_path / "s.db")  # and all of it is on disk
    assert reopened.counts() == {"pending": 4, "dead": 1}
    reopened.close()


def test_a_full_spool_fails_only_the_writes_that_do_not_fit(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "small.db", synchronous="full", max_bytes=128 * 1024)
    ids = spool.add([{"n": n, "pad": "x" * 2000} for n in range(10)])
    gate, entered, sizes = _gated(spool)
    errors: list[BaseException] = []

    def too_big() -> None:
        try:
            spool.add([{"n": 99, "pad": "y" * 400_000}])  # never fits in 128 KB
        except SpoolError as error:
            errors.append(error)

    first = _thread(lambda: spool.add([{"n": 20}]))
    assert entered.wait(10)
    threads = [_thread(lambda: spool.finish(ids)), _thread(too_big),
               _thread(lambda: spool.add([{"n": 21}]))]
    _wait_for(lambda: len(spool._waiting) == 3)
    gate.set()
    for thread in (first, *threads):
        thread.join(10)
    assert sizes[:2] == [1, 3]  # the group of three failed as one, then each went alone
    assert [getattr(e, "cause", None) for e in errors] == ["disk full"]
    assert [c["n"] for _, c in spool.take(20)] == [20, 21]  # the deletes and the small add
    spool.close()


def test_callers_of_the_last_group_are_waited_for(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_module, "REJOIN_LIMIT", 5.0)  # a slow machine may take a while
    spool = Spool(tmp_path / "s.db", synchronous="full")
    gate, entered, sizes = _gated(spool, delay=0.3)  # each commit takes 0.3 s: wait 0.15 s

    def twice() -> None:
        spool.add([COMMAND])
        spool.add([COMMAND])

    first = _thread(lambda: spool.add([COMMAND]))  # group 0, held at the gate
    assert entered.wait(10)
    loops = [_thread(twice), _thread(twice)]  # their first adds wait: group A
    _wait_for(lambda: len(spool._waiting) == 2)
    gate.set()
    _wait_for(lambda: len(sizes) == 2)  # group A is committing
    late = _thread(lambda: spool.add([COMMAND]))  # waits, then leads group B
    for thread in (first, *loops, late):
        thread.join(10)
    # Without the wait, B would be [late] alone and the loops' second adds a group of their own.
    assert sizes == [1, 2, 3]
    assert spool.counts()["pending"] == 6
    spool.close()


class _CountingCondition(threading.Condition):
    waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        type(self).waits += 1
        return super().wait(timeout)


def test_a_lone_caller_never_waits_for_others(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_module, "REJOIN_LIMIT", 5.0)
    spool = Spool(tmp_path / "s.db", synchronous="full")
    spool._group = _CountingCondition(threading.Lock())
    _CountingCondition.waits = 0
    _gated(spool, delay=0.05)[0].set()
    for _ in range(3):
        spool.add([COMMAND])
    assert spool.commits == 3 and _CountingCondition.waits == 0
    spool.close()


def test_a_waiting_leader_is_woken_once_by_the_last_caller_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each wake-up of a waiting thread costs a context switch: the callers that come back one by
    # one only take themselves off the list, and the last of them wakes the leader.
    monkeypatch.setattr(spool_module, "REJOIN_LIMIT", 5.0)
    spool = Spool(tmp_path / "s.db", synchronous="full")
    spool._group = _CountingCondition(threading.Lock())
    gate, _, sizes = _gated(spool)
    gate.set()
    go = [threading.Event() for _ in range(3)]

    def caller(k: int) -> None:
        assert go[k].wait(10)
        spool.add([COMMAND])

    callers = [_thread(lambda k=k: caller(k)) for k in range(3)]
    spool._last_group = frozenset(t.ident for t in callers if t.ident is not None)
    spool._last_seconds = 20.0  # the leader waits up to REJOIN_LIMIT
    _CountingCondition.waits = 0
    leader = _thread(lambda: spool.add([COMMAND]))
    _wait_for(lambda: len(spool._awaited) == 3)
    for k in range(2):
        go[k].set()
        _wait_for(lambda k=k: len(spool._waiting) == k + 2)
    go[2].set()  # the last one back: the leader takes the four
    for thread in (leader, *callers):
        thread.join(10)
    assert sizes == [4]  # one group: the leader waited for all three
    assert _CountingCondition.waits == 1  # and slept once, not once for each of them
    assert spool.counts()["pending"] == 4
    spool.close()


def _nested(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(children, max_size=3),
                     st.dictionaries(st.text(max_size=12), children, max_size=3))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(), _nested, max_leaves=12)
KEYS = st.sampled_from(["name", "data", "command_id", "x", "é", 'q"', "\\"])


@given(st.dictionaries(KEYS, JSON, max_size=5))
def test_encoded_items_are_the_bytes_of_the_command_with_its_id(command: dict[str, Any]) -> None:
    if command.get("command_id") is not None and not isinstance(command["command_id"], str):
        command["command_id"] = None
    (item,) = encode_items([command], CommandIds())
    expected = json.dumps({**command, "command_id": item.command_id}, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)
    assert item.text == expected
    assert item.size == len(expected.encode())
    assert command_id_of(item.text) == item.command_id


@given(JSON)
def test_command_id_of_agrees_with_parsing(value: Any) -> None:
    for command in ({"command_id": value}, {"x": value, "command_id": "id-1"},
                    {"command_id": "id-2", "x": value}, {"x": {"command_id": value}},
                    {"x": f',"command_id":"{value}"'}):
        text = json.dumps(command, separators=(",", ":"), ensure_ascii=False)
        parsed = json.loads(text).get("command_id")
        assert command_id_of(text) == (parsed if isinstance(parsed, str) else None)


@pytest.mark.parametrize(("was_ready", "ready", "immediate", "wakes"), [
    (0, 1, False, True),  # the first command: the flush interval starts
    (10, 20, False, False),  # not due yet
    (49, 50, False, True),  # a full batch is newly there
    (30, 130, False, True),
    (60, 61, False, False),  # a full batch was there already: the consumer knows
    (60, 61, True, True),
])
def test_the_consumer_is_woken_when_a_batch_becomes_due(was_ready: int, ready: int,
                                                         immediate: bool, wakes: bool) -> None:
    from ga_ee_bridge.send.policy import wakes_consumer

    assert wakes_consumer(was_ready, ready, immediate, 50) is wakes


def test_after_a_wait_in_vain_groups_commit_at_once_but_probe_now_and_then(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_module, "REJOIN_LIMIT", 0.02)
    spool = Spool(tmp_path / "s.db", synchronous="full")
    spool._group = counting = _CountingCondition(threading.Lock())
    _CountingCondition.waits = 0
    gone = frozenset({-1, -2})  # callers of the last group that never come back
    waited = []
    for _ in range(spool_module.REJOIN_PROBE + 1):
        spool._last_group, spool._last_seconds = gone, 1.0
        before = counting.waits
        spool.add([COMMAND])
        waited.append(counting.waits > before)
    assert waited == [True] + [False] * (spool_module.REJOIN_PROBE - 1) + [True]
    assert spool.counts()["pending"] == spool_module.REJOIN_PROBE + 1
    spool.close()


def test_a_child_forked_mid_group_commit_leads_its_own(exponea_server: ExponeaServer,
                                                      tmp_path: Path) -> None:
    client = Exponea(exponea_server.project_token, api_key_id=exponea_server.api_key_id,
                     api_secret=exponea_server.api_secret, base_url=exponea_server.url,
                     spool=tmp_path / "s.db", flush_interval=0.02)
    spool = client.spool
    assert spool is not None
    try:
        client.customer(cookie="warm").track("warm")
        assert client.flush(10)
        gate, entered, _ = _gated(spool)
        leader = _thread(lambda: client.customer(cookie="p1").track("parent-leader"))
        assert entered.wait(10)
        waiter = _thread(lambda: client.customer(cookie="p2").track("parent-waiter"))
        _wait_for(lambda: len(spool._waiting) == 1)  # a leader mid-commit, a writer waiting
        pid = os.fork()
        if pid == 0:
            signal.alarm(30)  # a child stuck waiting for the parent's leader dies, not hangs
            code = 1
            try:  # the parent's leader and waiter do not exist here: this call leads
                client.customer(cookie="c").track("child")
                code = 0 if client.flush(10) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        gate.set()
        for thread in (leader, waiter):
            thread.join(10)
        assert client.flush(10)
    finally:
        client.close(5)
    assert sorted(e["event_type"] for e in exponea_server.events) == [
        "child", "parent-leader", "parent-waiter", "warm"]
