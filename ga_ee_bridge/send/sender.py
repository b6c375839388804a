"""The background sender: a bounded queue, one consumer thread, batches, retries, dead letters.

Callers :meth:`Sender.submit` ready-made Tracking API commands; a daemon thread (started on first
use) sends them to the batch endpoint, 50 at most per request, as soon as 50 are waiting, after
``flush_interval`` seconds, or at once for ``immediate`` calls. Network errors, 429 (after its
``Retry-After``) and 5xx are retried with exponential backoff and jitter, resending the identical
commands, until ``max_retry_time`` runs out. Refused commands (400/401/403/404, per-command
``success: false``, or out of retries) go to the call's ``on_error``, to the log and to the dead
letters.

Nothing is dropped silently: a full queue makes the caller wait up to ``queue_timeout`` and then
raises :class:`QueueFullError`; with a :class:`~ga_ee_bridge.send.spool.Spool`, commands are on disk
before the call returns and the queue lives there. At interpreter exit a bounded flush runs; after
``os.fork()`` a child starts with an empty queue and its own thread, connection pool and spool
owner.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ga_ee_bridge.errors import DeliveryError, QueueFullError
from ga_ee_bridge.send.policy import (
    CLOSED_REASON,
    batch_wait,
    check_options,
    rate_slot,
    record_failure,
    retry_delay,
    split_results,
    wakes_consumer,
)
from ga_ee_bridge.send.request import APIError, CommandResult, TrackingAPI
from ga_ee_bridge.send.spool import DeadLetter, Spool

__all__ = ["DeliveryError", "QueueFullError", "Sender", "SenderStats"]

logger = logging.getLogger("ga_ee_bridge.send.sender")

MAX_BATCH = 50
_IDLE_WAIT = 5.0  # seconds; how often an idle consumer with a spool looks for orphans


OnSuccess = Callable[[], object]
OnError = Callable[[DeliveryError], object]


class _Call:
    """Callbacks of one public call, which may have made several commands."""

    __slots__ = ("failed", "on_error", "on_success", "remaining")

    def __init__(self, count: int, on_success: OnSuccess | None, on_error: OnError | None) -> None:
        self.remaining = count
        self.failed = False
        self.on_success = on_success
        self.on_error = on_error

    def done(self, error: DeliveryError | None) -> None:
        self.remaining -= 1
        if error is not None:
            self.failed = True
            if self.on_error is not None:
                _safely(self.on_error, error)
        elif self.remaining == 0 and not self.failed and self.on_success is not None:
            _safely(self.on_success)


def _safely(callback: Callable[..., object], *args: Any) -> None:
    try:
        callback(*args)
    except Exception:
        logger.exception("a delivery callback raised; the sender goes on")


@dataclass(slots=True)
class _Item:
    command: dict[str, Any]
    call: _Call | None
    spool_id: int | None = None


@dataclass
class SenderStats:
    """Counters since start: commands ``accepted`` and ``failed``, ``requests``, ``retries``."""

    accepted: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)


class Sender:
    """Delivers Tracking API commands in the background; thread-safe; see the module docstring."""

    def __init__(
        self,
        api: TrackingAPI,
        *,
        spool: Spool | None = None,
        batch_size: int = MAX_BATCH,
        flush_interval: float = 0.1,
        max_queue_size: int = 10_000,
        queue_timeout: float = 0.5,
        max_retry_time: float = 300.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_rps: float | None = None,
        exit_timeout: float = 5.0,
        dead_letter_limit: int = 1000,
    ) -> None:
        check_options(batch_size=batch_size, max_batch=MAX_BATCH, max_queue_size=max_queue_size,
                      max_rps=max_rps)
        self.api = api
        self.spool = spool
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue_size = max_queue_size
        self.queue_timeout = queue_timeout
        self.max_retry_time = max_retry_time
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_rps = max_rps
        self.exit_timeout = exit_timeout
        self.stats = SenderStats()
        self._dead: collections.deque[DeadLetter] = collections.deque(maxlen=dead_letter_limit)
        self._closed = False
        self._init_runtime()
        _live_senders.add(self)
        if spool is not None:
            claimed = spool.claim_orphans()
            if claimed:
                with self._cond:
                    self._add_ready(claimed, immediate=False)
                self._ensure_thread()

    def _init_runtime(self) -> None:
        """State that a forked child must not share with its parent."""
        self._cond = threading.Condition(threading.Lock())
        self._memory: collections.deque[_Item] = collections.deque()
        self._calls: dict[int, _Call] = {}  # spool id -> call, for spooled commands
        self._ready = 0  # queued and not yet taken by the consumer
        self._unfinished = 0  # queued and not yet accepted or failed
        self._first_ready: float | None = None
        self._immediate = False
        self._flushing = 0
        self._closing = False
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None
        self._cursor = 0
        self._next_slot = 0.0
        self._rng = random.Random()
        self._last_claim = time.monotonic()

    def __repr__(self) -> str:
        return (f"Sender(api={self.api!r}, spool={self.spool!r}, queued={self._unfinished}, "
                f"closed={self._closed})")

    # -- producer side -----------------------------------------------------------------------

    def submit(self, commands: Sequence[dict[str, Any]], *, on_success: OnSuccess | None = None,
               on_error: OnError | None = None, immediate: bool = False,
               progress: tuple[str, str] | None = None) -> None:
        """Queue ready-made commands (already validated and time-stamped).

        With a spool, returns once they are on disk (``progress``, a key and value, is stored in
        the same transaction). Without one, waits up to ``queue_timeout`` for room and then raises
        :class:`QueueFullError` (nothing of this call is queued).
        """
        if not commands:
            if progress is not None and self.spool is not None:
                self.spool.set_meta(*progress)
            if on_success is not None:
                _safely(on_success)
            return
        if self._closed:
            raise RuntimeError("this client is closed; nothing was queued")
        call = _Call(len(commands), on_success, on_error) if (on_success or on_error) else None
        n = len(commands)
        if self.spool is not None:
            ids = self.spool.add(commands, meta=progress)
            with self._cond:
                if call is not None:
                    for spool_id in ids:
                        self._calls[spool_id] = call
                self._add_ready(n, immediate)
        else:
            with self._cond:
                deadline = time.monotonic() + self.queue_timeout
                while self._memory and len(self._memory) + n > self.max_queue_size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise QueueFullError(
                            f"the send queue stayed full ({len(self._memory)} commands) for "
                            f"{self.queue_timeout:g} s; {n} command(s) not queued")
                    self._cond.wait(remaining)
                if n == 1:
                    self._memory.append(_Item(commands[0], call))
                else:
                    self._memory.extend([_Item(c, call) for c in commands])
                self._add_ready(n, immediate)
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._ensure_thread()

    def _add_ready(self, n: int, immediate: bool) -> None:
        # Called with self._cond held. Wake the consumer only when a batch may have become due.
        was_ready = self._ready
        if was_ready == 0:
            self._first_ready = time.monotonic()
        self._ready = was_ready + n
        self._unfinished += n
        if immediate:
            self._immediate = True
        if wakes_consumer(was_ready, self._ready, immediate, self.batch_size):
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="ga-ee-bridge-sender",
                                            daemon=True)
            self._thread.start()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued command was accepted or failed; False if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._unfinished and not self._abort.is_set():
            self._ensure_thread()
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._unfinished > 0:
                    if deadline is None:
                        self._cond.wait()
                        continue
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flushing -= 1

    def close(self, timeout: float | None = None) -> bool:
        """Flush (up to ``timeout``), then stop the thread; True when everything was delivered.

        Commands still undelivered when ``timeout`` runs out stay in the spool if there is one;
        without a spool they fail (``on_error``, log, dead letters), never silently.
        """
        if self._closed:
            return self._unfinished == 0
        self._closed = True
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        delivered = self.flush(timeout)
        self._abort.set()
        with self._cond:
            self._cond.notify_all()
            left = list(self._memory)
            self._memory.clear()
            self._ready = 0
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)
        if left:
            self._fail(left, CLOSED_REASON, None)
        if self.spool is not None and not delivered:
            logger.warning("closing with %d command(s) not yet delivered; they stay in spool %s "
                           "and go out with the next client using it",
                           self._unfinished, self.spool.path)
        if thread is None or not thread.is_alive():
            self.api.close()
            if self.spool is not None:
                self.spool.close()
        _live_senders.discard(self)
        return delivered

    def dead_letters(self) -> list[DeadLetter]:
        """The refused commands: from the spool if there is one, else the latest in memory."""
        if self.spool is not None:
            return self.spool.dead_letters()
        return list(self._dead)

    @property
    def queued(self) -> int:
        """Commands queued and not yet accepted or failed."""
        return self._unfinished

    # -- consumer side -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                items = self._next_batch()
                if items is None:
                    return
                if items:
                    try:
                        self._deliver(items)
                    except Exception as error:  # a bug or a broken spool: fail loudly, go on
                        logger.exception("delivering a batch failed unexpectedly")
                        self._fail(items, f"internal error: {type(error).__name__}: {error}",
                                   None)
        except Exception:
            logger.exception("the sender thread failed; %d command(s) not delivered",
                             self._unfinished)
            raise

    def _next_batch(self) -> list[_Item] | None:
        """Wait for a batch to be due; None when the sender stops."""
        with self._cond:
            while True:
                if self._abort.is_set():
                    return None
                now = time.monotonic()
                if self._ready > 0:
                    wait = batch_wait(self._ready, self._first_ready, now,
                                      batch_size=self.batch_size,
                                      flush_interval=self.flush_interval,
                                      urgent=bool(self._immediate or self._flushing
                                                  or self._closing))
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                elif self._closing:
                    return None
                elif self.spool is not None and now - self._last_claim >= _IDLE_WAIT:
                    break
                else:
                    self._cond.wait(_IDLE_WAIT)
            n = min(self._ready, self.batch_size)
            self._ready -= n
            if self._ready == 0:
                self._first_ready = None
                self._immediate = False
            items: list[_Item] = []
            if self.spool is None:
                items = [self._memory.popleft() for _ in range(n)]
            self._cond.notify_all()
        if self.spool is None:
            return items
        if n == 0:
            self._last_claim = time.monotonic()
            claimed = self.spool.claim_orphans()
            if claimed:
                with self._cond:
                    self._cursor = 0
                    self._add_ready(claimed, immediate=False)
            return []
        rows = self.spool.take(n, after=self._cursor)
        with self._cond:
            items = [_Item(cmd, self._calls.pop(i, None), i) for i, cmd in rows]
            if len(rows) < n:  # rows changed under us (another tool edited the spool)
                self._unfinished -= n - len(rows)
                self._cond.notify_all()
        if rows:
            self._cursor = rows[-1][0]
        return items

    def _wait_rate_slot(self) -> None:
        if self.max_rps is None:
            return
        wait, self._next_slot = rate_slot(time.monotonic(), self._next_slot, self.max_rps)
        if wait > 0:
            self._abort.wait(wait)

    def _deliver(self, items: list[_Item]) -> None:
        started = time.monotonic()
        attempt = 0
        commands = [item.command for item in items]
        while True:
            self._wait_rate_slot()
            self.stats.requests += 1
            try:
                results = self.api.batch(commands)
            except APIError as error:
                delay = self._retry_delay(error, attempt, started)
                if delay is None:
                    self._fail(items, error.message, error.status)
                    return
                if self._abort.is_set():
                    self._abandon(items, error.message)
                    return
                self.stats.retries += 1
                logger.info("batch of %d failed (%s); retry %d in %.2f s", len(items),
                            error.message, attempt + 1, delay)
                if self._abort.wait(delay):
                    self._abandon(items, error.message)
                    return
                attempt += 1
                continue
            self._settle(items, results)
            return

    def _retry_delay(self, error: APIError, attempt: int, started: float) -> float | None:
        """Seconds before the next try, or None when the error is final or time ran out."""
        return retry_delay(error, attempt, time.monotonic() - started, backoff=self.backoff,
                           max_backoff=self.max_backoff, max_retry_time=self.max_retry_time,
                           rng=self._rng)

    def _settle(self, items: list[_Item], results: list[CommandResult]) -> None:
        accepted_at, refused_at = split_results(results, len(items))
        accepted = [items[i] for i in accepted_at]
        dead = [(items[i], reason, None) for i, reason in refused_at]
        if self.spool is not None:
            self.spool.finish(
                [i.spool_id for i in accepted if i.spool_id is not None],
                [(i.spool_id, status, reason) for i, reason, status in dead
                 if i.spool_id is not None])
        self.stats.accepted += len(accepted)
        for item in accepted:
            if item.call is not None:
                item.call.done(None)
        for item, reason, status in dead:
            self._record_failure(item, reason, status)
        self._finished(len(items))

    def _fail(self, items: list[_Item], reason: str, status: int | None) -> None:
        if self.spool is not None:
            self.spool.finish([], [(i.spool_id, status, reason) for i in items
                                   if i.spool_id is not None])
        for item in items:
            self._record_failure(item, reason, status)
        self._finished(len(items))

    def _abandon(self, items: list[_Item], reason: str) -> None:
        """The client closed mid-retry: spooled commands wait on disk, others fail."""
        if self.spool is None:
            self._fail(items, f"the client was closed while retrying: {reason}", None)
            return
        logger.warning("closing while retrying (%s); %d command(s) stay in spool %s",
                       reason, len(items), self.spool.path)

    def _record_failure(self, item: _Item, reason: str, status: int | None) -> None:
        error = record_failure(self.stats, item.command, reason, status,
                               dead=self._dead if self.spool is None else None, log=logger)
        if item.call is not None:
            item.call.done(error)

    def _finished(self, n: int) -> None:
        with self._cond:
            self._unfinished -= n
            self._cond.notify_all()

    # -- process lifecycle -------------------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        """The child starts empty: the parent still owns (and sends) what was queued before."""
        self._init_runtime()
        self.api.reset_after_fork()
        if self.spool is not None:
            self.spool.reset_after_fork()

    def _close_at_exit(self, deadline: float) -> None:
        if self._closed:
            return
        timeout = max(0.0, min(self.exit_timeout, deadline - time.monotonic()))
        if self._unfinished:
            logger.info("interpreter exit: flushing %d command(s) for up to %.1f s",
                        self._unfinished, timeout)
        self.close(timeout)


_live_senders: weakref.WeakSet[Sender] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for sender in list(_live_senders):
        sender._after_fork_in_child()


def _at_exit() -> None:
    senders = list(_live_senders)
    if not senders:
        return
    deadline = time.monotonic() + max(s.exit_timeout for s in senders)
    for sender in senders:
        try:
            sender._close_at_exit(deadline)
        except Exception:
            logger.exception("flushing at interpreter exit failed")


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
