"""The sender rules both senders share (send/policy.py): properties, not just examples."""

from __future__ import annotations

import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from ga_ee_bridge.errors import APIError
from ga_ee_bridge.send.policy import batch_wait, rate_slot, retry_delay, split_results
from ga_ee_bridge.send.request import CommandResult

seconds = st.floats(min_value=0, max_value=1e4, allow_nan=False)


@given(attempt=st.integers(0, 40), elapsed=seconds, backoff=st.floats(0.001, 10),
       max_backoff=st.floats(0.001, 100), max_retry_time=seconds, seed=st.integers(0, 99),
       retry_after=st.none() | seconds, retryable=st.booleans())
def test_retry_delay(attempt: int, elapsed: float, backoff: float, max_backoff: float,
                     max_retry_time: float, seed: int, retry_after: float | None,
                     retryable: bool) -> None:
    error = APIError("x", retryable=retryable, retry_after=retry_after)
    delay = retry_delay(error, attempt, elapsed, backoff=backoff, max_backoff=max_backoff,
                        max_retry_time=max_retry_time, rng=random.Random(seed))
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
    next_slot, slots = 0.0, []
    for now in sorted(arrivals):
        wait, next_slot = rate_slot(now, next_slot, max_rps)
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


@given(st.lists(st.booleans(), max_size=50))
def test_split_results_partitions(verdicts: list[bool]) -> None:
    results = [CommandResult(True) if ok else CommandResult(False, ["no"]) for ok in verdicts]
    accepted, refused = split_results(results, len(results))
    assert sorted(accepted + [i for i, _ in refused]) == list(range(len(verdicts)))
    assert all(verdicts[i] for i in accepted) and not any(verdicts[i] for i, _ in refused)
