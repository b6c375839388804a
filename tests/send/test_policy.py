"""The sender rules both senders share (send/policy.py): properties, not just examples."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ga_ee_bridge.errors import APIError
from ga_ee_bridge.send import policy
from ga_ee_bridge.send.policy import (
    CommandIds,
    RateLimiter,
    RetryPolicy,
    batch_wait,
    encode_command,
    parse_batch_answer,
    take_batch,
)

seconds = st.floats(min_value=0, max_value=1e4, allow_nan=False)


@given(attempt=st.integers(0, 40), elapsed=seconds, backoff=st.floats(0.001, 10),
       max_backoff=st.floats(0.001, 100), max_retry_time=seconds, seed=st.integers(0, 99),
       retry_after=st.none() | seconds, retryable=st.booleans())
def test_retry_delay(attempt: int, elapsed: float, backoff: float, max_backoff: float,
                     max_retry_time: float, seed: int, retry_after: float | None,
                     retryable: bool) -> None:
    error = APIError("x", retryable=retryable, retry_after=retry_after)
    policy = RetryPolicy(backoff=backoff, max_backoff=max_backoff, max_retry_time=max_retry_time)
    delay = policy.delay(error, attempt, elapsed, random.Random(seed))
    if not retryable:
        assert delay is None
        return
    if delay is None:  # only when the retry would end past max_retry_time
        longest = retry_after if retry_after is not None else min(max_backoff,
                                                                  backoff * 2 ** attempt)
        assert elapsed + longest > max_retry_time
        return
    assert elapsed + delay <= max_retry_time
    if retry_after is not None:
        assert delay == retry_after
    else:
        ceiling = min(max_backoff, backoff * 2 ** attempt)
        assert ceiling / 2 <= delay <= ceiling


@given(st.lists(st.floats(0, 100), min_size=1, max_size=30), st.floats(0.1, 1000))
def test_rate_slots_are_spaced(arrivals: list[float], max_rps: float) -> None:
    limiter, slots = RateLimiter(max_rps), []
    for now in sorted(arrivals):
        wait = limiter.reserve(now)
        assert wait >= 0
        slots.append(now + wait)
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert all(gap >= 1 / max_rps - 1e-9 for gap in gaps)


@given(ready=st.integers(1, 100), waited=st.floats(0, 5), interval=st.floats(0, 5),
       urgent=st.booleans())
def test_batch_wait(ready: int, waited: float, interval: float, urgent: bool) -> None:
    wait = batch_wait(ready, 100.0, 100.0 + waited, batch_size=50, flush_interval=interval,
                      urgent=urgent)
    if urgent or ready >= 50 or waited >= interval:
        assert wait == 0
    else:
        assert abs(wait - (interval - waited)) < 1e-9


@given(st.lists(st.booleans(), min_size=1, max_size=50), st.randoms(use_true_random=False))
def test_batch_answers_matched_by_command_id(verdicts: list[bool], rng: random.Random) -> None:
    ids = [f"p-{i}" for i in range(len(verdicts))]
    results = [{"success": ok, "command_id": cid} if ok else
               {"success": False, "errors": [cid], "command_id": cid}
               for ok, cid in zip(verdicts, ids, strict=True)]
    rng.shuffle(results)  # whatever order the server answers in
    parsed = parse_batch_answer({"success": True, "results": results}, ids)
    assert [r.success for r in parsed] == verdicts
    assert all(r.success or r.errors == [cid] for r, cid in zip(parsed, ids, strict=True))


@given(st.lists(st.integers(1, 5000), min_size=1, max_size=80), st.integers(1, 50),
       st.integers(1024, 20_000))
def test_take_batch_bounds_commands_and_bytes(sizes: list[int], max_commands: int,
                                              max_bytes: int) -> None:
    n = take_batch(sizes, max_commands=max_commands, max_bytes=max_bytes)
    assert 1 <= n <= min(max_commands, len(sizes))
    body = len('{"commands":[]}') + sum(sizes[:n]) + n - 1
    assert n == 1 or body <= max_bytes
    if n < min(max_commands, len(sizes)):  # stopped by the byte bound: one more would pass it
        assert body + 1 + sizes[n] > max_bytes


def test_encode_command_size_is_bytes() -> None:
    text, size = encode_command({"name": "customers/events", "data": {"p": "é"}})
    assert size == len(text.encode()) == len(text) + 1


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@contextlib.contextmanager
def _stdlib_only() -> Iterator[None]:
    """encode_command as without the extra ``fast`` (the standard library alone)."""
    with mock.patch.object(policy, "_orjson", None):
        yield


def _json_dumps(command: Any) -> str:
    return json.dumps(command, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@given(command=st.dictionaries(st.text(), _JSON, max_size=6))
@example(command={"small": 1e-05, "tiny": 5e-324, "large": 1e16, "huge": 1e300, "x": -0.0001})
@example(command={"n": None, "big": 2**70, "t": (1, "a"), "s": "\x00\x1f\x7f\u2028é😀\"\\"})
@example(command={"0e1": "1e5 0.00001 null", "f": 15.000001, "ts": 1764660000.123456})
def test_encode_command_is_json_dumps(command: dict[str, Any]) -> None:
    """With orjson (the extra) and without, the text is json's, byte for byte."""
    text, size = encode_command(command)
    assert text == _json_dumps(command)
    assert size == len(text.encode())
    with _stdlib_only():
        assert encode_command(command) == (text, size)


def test_encode_command_keys_json_turns_into_text() -> None:
    command = {7: "a", False: "b", None: "c", 2.5: "d"}
    assert encode_command(command)[0] == _json_dumps(command)
    assert _json_dumps(command) == '{"7":"a","false":"b","null":"c","2.5":"d"}'


def test_a_plain_command_is_encoded_by_orjson_when_installed() -> None:
    """The fast path is taken for what track() queues (json is not asked at all)."""
    pytest.importorskip("orjson")
    if policy._orjson is None:
        pytest.skip("GA_EE_BRIDGE_JSON=stdlib")
    command = {"name": "customers/events", "data": {
        "customer_ids": {"registered": "user5"}, "event_type": "product_detail",
        "timestamp": 1764660000.123456, "properties": {"price": 15.25, "quantity": 3, "name": "Shirt"}}}
    with mock.patch.object(policy, "_encode", side_effect=AssertionError("json was asked")):
        text, size = encode_command(command)
    assert text == _json_dumps(command) and size == len(text)


def test_command_ids_are_new_in_a_forked_child() -> None:
    """A real fork: the child's ids never repeat the parent's (a new prefix, counted from 1)."""
    ids = CommandIds()
    parent = [ids.next(), ids.next()]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.write(write, f"{ids.next()} {ids.next()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    assert len(child) == 2 and not set(child) & set(parent)
    assert child[0].split("-")[0] != parent[0].split("-")[0]
    assert [i.split("-")[1] for i in child] == ["1", "2"]
    assert ids.next().rsplit("-", 1) == [parent[0].split("-")[0], "3"]  # the parent goes on


@pytest.mark.parametrize(("command", "error", "message"), [
    ({"x": float("nan")}, ValueError, "Out of range float"),
    ({"x": object()}, TypeError, "not JSON serializable"),
])
def test_encode_command_refuses_what_json_refuses(command: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        encode_command(command)


def test_a_command_that_contains_itself_is_refused_as_json_does() -> None:
    command: dict[str, Any] = {"name": "customers/events"}
    command["data"] = command
    with pytest.raises(ValueError, match="Circular reference"):
        encode_command(command)
