"""What both senders are: their options, counters and queue state, and how results are reported.

:class:`SenderBase` is shared by the threaded :class:`~ga_ee_bridge.send.sender.Sender` and the
asyncio :class:`~ga_ee_bridge.send.async_sender.AsyncSender`: the same options (checked by
:func:`~ga_ee_bridge.send.policy.check_options`), the same queue counters, the same
``on_success``/``on_error``/dead-letter reporting; only waiting and I/O differ between them.
"""

from __future__ import annotations

import collections
import random
import time
from typing import Generic, TypeVar

from ga_ee_bridge.core.limits import MAX_BATCH_BYTES, MAX_BATCH_COMMANDS
from ga_ee_bridge.errors import QueueFullError
from ga_ee_bridge.send import lifecycle
from ga_ee_bridge.send.calls import Call, Item, SenderStats, SpoolFaults, record_failure
from ga_ee_bridge.send.policy import (
    CommandIds,
    RateLimiter,
    RetryPolicy,
    check_options,
    wakes_consumer,
)
from ga_ee_bridge.send.spool import DeadLetter, Spool

__all__ = ["DEAD_LETTER_LIMIT", "IDLE_CLAIM_INTERVAL", "MAX_BATCH", "SenderBase"]

MAX_BATCH = MAX_BATCH_COMMANDS
#: Dead letters kept in memory without a spool (the oldest go first, counted and logged).
DEAD_LETTER_LIMIT = 1000
#: Seconds between an idle spooled sender's looks for the commands of processes that died.
IDLE_CLAIM_INTERVAL = 5.0

ApiT = TypeVar("ApiT")


def queue_full(queued: int, timeout: float, n: int) -> QueueFullError:
    """The error of a call whose ``n`` commands found no room in ``timeout`` seconds (both
    senders raise it; nothing of the call was queued)."""
    return QueueFullError(f"the send queue stayed full ({queued} commands) for {timeout:g} s; "
                          f"{n} command(s) not queued")


class SenderBase(Generic[ApiT]):
    """Options, counters and reporting shared by both senders (see the module docstring)."""

    def __init__(
        self,
        api: ApiT,
        *,
        spool: Spool | None = None,
        batch_size: int = MAX_BATCH,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        flush_interval: float = 0.1,
        max_queue_size: int = 10_000,
        queue_timeout: float = 0.5,
        max_retry_time: float = 300.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_rps: float | None = None,
        exit_timeout: float = 5.0,
        dead_letter_limit: int = DEAD_LETTER_LIMIT,
    ) -> None:
        check_options(batch_size=batch_size, max_queue_size=max_queue_size,
                      max_batch_bytes=max_batch_bytes, max_rps=max_rps)
        self.api = api
        self.spool = spool
        self.batch_size = batch_size
        self.max_batch_bytes = max_batch_bytes
        self.flush_interval = flush_interval
        self.max_queue_size = max_queue_size
        self.queue_timeout = queue_timeout
        self.retry = RetryPolicy(backoff=backoff, max_backoff=max_backoff,
                                 max_retry_time=max_retry_time)
        self.max_rps = max_rps
        self.exit_timeout = exit_timeout
        self.dead_letter_limit = dead_letter_limit
        self.stats = SenderStats()
        self._dead: collections.deque[DeadLetter] = collections.deque(maxlen=dead_letter_limit)
        self._closed = False
        self._init_runtime()
        lifecycle.track(self)
        self._take_over()

    def _take_over(self) -> None:
        """Once configured: a sender may take over a dead process's spooled commands here."""

    def _after_fork_in_child(self) -> None:
        raise NotImplementedError

    def _close_at_exit(self, deadline: float) -> None:
        raise NotImplementedError

    def _init_runtime(self) -> None:
        """State that a forked child must not share with its parent (subclasses add theirs)."""
        self._memory: collections.deque[Item] = collections.deque()
        self._calls: dict[int, Call] = {}  # spool id -> call, for spooled commands
        self._ready = 0  # queued and not yet taken by the consumer
        self._unfinished = 0  # queued and not yet accepted or failed
        self._first_ready: float | None = None
        self._immediate = False
        self._flushing = 0
        self._closing = False
        self._inflight: list[Item] = []
        self._cursor = 0
        self._rate = RateLimiter(self.max_rps)
        self._rng = random.Random()
        self._ids = CommandIds()
        self._last_claim = time.monotonic()
        # Spool updates that a fault (disk full) kept from being written: tried again soon.
        self._unsaved = SpoolFaults()

    @property
    def queued(self) -> int:
        """Commands queued and not yet accepted or failed."""
        return self._unfinished

    def _count_ready(self, n: int, immediate: bool) -> bool:
        """Count ``n`` newly queued commands; True when the consumer must wake for them."""
        was_ready = self._ready
        if was_ready == 0:
            self._first_ready = time.monotonic()
        self._ready = was_ready + n
        self._unfinished += n
        if immediate:
            self._immediate = True
        return wakes_consumer(was_ready, self._ready, immediate, self.batch_size)

    def _report(self, accepted: list[Item], dead: list[tuple[Item, str]],
                status: int | None = None, *, log: bool = True) -> None:
        """Count and tell the calls: ``accepted`` ones succeeded, ``dead`` ones failed (reason)."""
        self.stats.accepted += len(accepted)
        for item in accepted:
            if item.call is not None:
                item.call.done(None)
        for item, reason in dead:
            record_failure(self.stats, item, reason, status,
                           dead=self._dead if self.spool is None else None, log=log)
