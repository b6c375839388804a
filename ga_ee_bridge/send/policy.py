"""The sender's rules, free of I/O: when a batch is due, retry delays, the rate limit, failures.

Both senders (the thread-based :class:`~ga_ee_bridge.send.sender.Sender` and the asyncio
:class:`~ga_ee_bridge.send.async_sender.AsyncSender`) call these, so a rule has one home.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, MutableSequence, Sequence
from typing import Any, Protocol

from ga_ee_bridge.errors import APIError, DeliveryError
from ga_ee_bridge.send.request import CommandResult
from ga_ee_bridge.send.spool import DeadLetter

__all__ = ["CLOSED_REASON", "FailureStats", "batch_wait", "check_options", "rate_slot",
           "record_failure", "retry_delay", "split_results", "wakes_consumer"]

#: Why a command still in memory when its client closed failed.
CLOSED_REASON = "the client was closed before these commands were delivered"


class FailureStats(Protocol):
    """The counters :func:`record_failure` updates (``SenderStats`` has them)."""

    failed: int
    failures: Any  # a collections.Counter[str]


def check_options(*, batch_size: int, max_batch: int, max_queue_size: int,
                  max_rps: float | None) -> None:
    """Refuse sender options that cannot work, naming the option and the value."""
    if not 1 <= batch_size <= max_batch:
        raise ValueError(f"batch_size must be 1 to {max_batch}, got {batch_size!r}")
    if max_queue_size < 1:
        raise ValueError(f"max_queue_size must be positive, got {max_queue_size!r}")
    if max_rps is not None and max_rps <= 0:
        raise ValueError(f"max_rps must be positive, got {max_rps!r}")


def wakes_consumer(was_ready: int, ready: int, immediate: bool, batch_size: int) -> bool:
    """Whether newly queued commands may have made a batch due, so the consumer must wake."""
    return was_ready == 0 or immediate or ready >= batch_size


def batch_wait(ready: int, first_ready: float | None, now: float, *, batch_size: int,
               flush_interval: float, urgent: bool) -> float:
    """Seconds until the ``ready`` commands are due to go out as a batch (0: now).

    Due when a full batch waits, when ``urgent`` (an immediate call, a flush, a close), or
    ``flush_interval`` after the first of them was queued (at ``first_ready``).
    """
    if ready >= batch_size or urgent:
        return 0.0
    due = (first_ready if first_ready is not None else now) + flush_interval
    return max(0.0, due - now)


def split_results(results: Sequence[CommandResult], count: int
                  ) -> tuple[list[int], list[tuple[int, str]]]:
    """A batch's verdicts: the indexes accepted, and ``(index, reason)`` of those refused."""
    if len(results) != count:
        raise ValueError(f"{len(results)} results for {count} commands")
    accepted = [i for i, result in enumerate(results) if result.success]
    refused = [(i, result.reason) for i, result in enumerate(results) if not result.success]
    return accepted, refused


def retry_delay(error: APIError, attempt: int, elapsed: float, *, backoff: float,
                max_backoff: float, max_retry_time: float, rng: random.Random) -> float | None:
    """Seconds before retry ``attempt + 1`` of a batch, or None when ``error`` is final.

    ``Retry-After`` wins; otherwise exponential backoff with jitter (between half and all of
    ``backoff * 2**attempt``, at most ``max_backoff``). None once the retry would end past
    ``max_retry_time`` seconds after the first try (``elapsed`` is the time since it).
    """
    if not error.retryable:
        return None
    if error.retry_after is not None:
        delay = error.retry_after
    else:
        ceiling = min(max_backoff, backoff * 2 ** attempt)
        delay = rng.uniform(ceiling / 2, ceiling)
    if elapsed + delay > max_retry_time:
        return None
    return delay


def rate_slot(now: float, next_slot: float, max_rps: float) -> tuple[float, float]:
    """``(seconds to wait, the next free slot)`` for one request at most ``max_rps`` per second."""
    slot = max(now, next_slot)
    return slot - now, slot + 1.0 / max_rps


def record_failure(stats: FailureStats, command: Mapping[str, Any], reason: str,
                   status: int | None, *, dead: MutableSequence[DeadLetter] | None,
                   log: logging.Logger) -> DeliveryError:
    """Count, log (ERROR) and, without a spool, keep a dead letter for one undelivered command.

    Returns the :class:`DeliveryError` for the call's ``on_error``. With a spool, pass
    ``dead=None``: the spool keeps the dead letter.
    """
    stats.failed += 1
    stats.failures[reason] += 1
    data = command.get("data") or {}
    what = data.get("event_type") or command.get("name")
    log.error("command %s not delivered%s: %s", what, f" (HTTP {status})" if status else "",
              reason)
    if dead is not None:
        dead.append(DeadLetter(command, reason, status, time.time()))
    return DeliveryError(reason, command=command, status=status)
