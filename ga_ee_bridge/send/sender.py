"""The background sender: a bounded queue, one consumer thread, batches, retries, dead letters.

Callers :meth:`Sender.submit` ready-made Tracking API commands; each gets a ``command_id`` and is
serialised once (so every resend is byte-identical). A daemon thread (started on first use) sends
them to the batch endpoint, 50 at most and :data:`~ga_ee_bridge.core.limits.MAX_BATCH_BYTES` at
most per request, as soon as 50 are waiting, after ``flush_interval`` seconds, or at once for
``immediate`` calls. The decisions (retries, rate, batch sizes, matching results) are the plain
functions of :mod:`ga_ee_bridge.send.policy`. Refused commands (400/401/403/404, per-command
``success: false``, or out of retries) go to the call's ``on_error``, to the log and to the dead
letters.

Nothing is dropped silently: a full queue makes the caller wait up to ``queue_timeout`` and then
raises :class:`QueueFullError`; with a :class:`~ga_ee_bridge.send.spool.Spool`, commands are on disk
before the call returns (or the call raises :class:`SpoolError`) and the queue lives there. At
``close()`` and at exit (interpreter exit, and the end of a ``multiprocessing`` or billiard child,
through their ``Finalize`` hooks) a bounded flush runs; every command still unconfirmed then reaches
its ``on_error`` ("not delivered before exit") with one WARNING for the lot, or, with a spool,
stays there. After ``os.fork()`` a child starts with an empty queue and its own thread, connection
pool and spool owner. A raw ``os.fork()`` child that ends with ``os._exit()`` runs no hook at all:
without a spool, what it queued is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from ga_ee_bridge.errors import DeliveryError, QueueFullError, SpoolError
from ga_ee_bridge.send import lifecycle
from ga_ee_bridge.send.calls import (
    SPOOL_RETRY_INTERVAL,
    Call,
    Item,
    OnError,
    OnSuccess,
    SenderStats,
    claim,
    command_id_of,
    encode_items,
    safely,
)
from ga_ee_bridge.send.policy import (
    NOT_DELIVERED,
    batch_wait,
    take_batch,
)
from ga_ee_bridge.send.request import APIError, CommandResult, TrackingAPI
from ga_ee_bridge.send.sender_base import (
    DEAD_LETTER_LIMIT,
    IDLE_CLAIM_INTERVAL,
    MAX_BATCH,
    SenderBase,
    queue_full,
)
from ga_ee_bridge.send.spool import DeadLetter

__all__ = ["DEAD_LETTER_LIMIT", "IDLE_CLAIM_INTERVAL", "MAX_BATCH", "SPOOL_RETRY_INTERVAL",
           "DeliveryError", "QueueFullError", "Sender", "SenderStats", "SpoolError"]

logger = logging.getLogger("ga_ee_bridge.send.sender")

#: Seconds ``close()`` waits for the sender thread to stop once the flush is over.
CLOSE_JOIN_TIMEOUT = 1.0


class Sender(SenderBase[TrackingAPI]):
    """Delivers Tracking API commands in the background; thread-safe; see the module docstring."""

    def _take_over(self) -> None:
        if self.spool is not None:
            claimed = self.spool.claim_orphans()
            if claimed:
                with self._cond:
                    self._add_ready(claimed, immediate=False)
                self._ensure_thread()

    def _init_runtime(self) -> None:
        """State that a forked child must not share with its parent."""
        super()._init_runtime()
        # An RLock: its C ``_acquire_restore`` always takes the lock back in ``wait``, where a
        # plain Lock's Python one can be cut short by Ctrl-C (then ``with`` releases an unlocked
        # lock: CPython gh-118433). As fast here (300 ns a ``with``).
        self._cond = threading.Condition(threading.RLock())
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return (f"Sender(api={self.api!r}, spool={self.spool!r}, queued={self._unfinished}, "
                f"closed={self._closed})")

    # -- producer side -----------------------------------------------------------------------

    def submit(self, commands: Sequence[dict[str, Any]], *, on_success: OnSuccess | None = None,
               on_error: OnError | None = None, immediate: bool = False,
               progress: tuple[str, str] | None = None,
               refused: Sequence[tuple[dict[str, Any], str]] = ()) -> None:
        """Queue ready-made commands (already validated and time-stamped).

        Each gets a ``command_id`` unless it has one; a message of 800 KB or more raises
        ``ValueError`` (nothing of the call is queued). With a spool, returns once they are on
        disk (``progress``, a key and value, and ``refused`` ``(record, reason)`` dead letters are
        stored in the same transaction) or raises :class:`SpoolError`. Without one, waits up to
        ``queue_timeout`` for room and then raises :class:`QueueFullError`.
        """
        if self._closed:
            raise RuntimeError("this client is closed; nothing was queued")
        if not commands:
            if self.spool is not None and (progress is not None or refused):
                self.spool.add([], meta=progress, dead=refused)
            if on_success is not None:
                safely(on_success)
            return
        items = encode_items(commands, self._ids)
        call = Call(len(items), on_success, on_error) if (on_success or on_error) else None
        n = len(items)
        if self.spool is not None:
            ids = self.spool.add([item.text for item in items], meta=progress, dead=refused)
            with self._cond:
                if call is not None:
                    for spool_id in ids:
                        self._calls[spool_id] = call
                self._add_ready(n, immediate)
        else:
            if call is not None:
                for item in items:
                    item.call = call
            with self._cond:
                if self._memory and len(self._memory) + n > self.max_queue_size:
                    self._wait_for_room(n)
                self._memory.extend(items)
                self._add_ready(n, immediate)
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._ensure_thread()

    def _wait_for_room(self, n: int) -> None:
        """With ``self._cond`` held: wait up to ``queue_timeout`` for room for ``n`` commands."""
        deadline = time.monotonic() + self.queue_timeout
        while self._memory and len(self._memory) + n > self.max_queue_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise queue_full(len(self._memory), self.queue_timeout, n)
            self._cond.wait(remaining)

    def _add_ready(self, n: int, immediate: bool) -> None:
        # Called with self._cond held. Wake the consumer only when a batch may have become due.
        if self._count_ready(n, immediate):
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        lifecycle.hook_process_end()
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

        Commands still unconfirmed when ``timeout`` runs out, queued or in flight, stay in the
        spool if there is one; without a spool each reaches its ``on_error`` ("not delivered
        before exit") and the dead letters, with one WARNING log line for the lot.
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
            left = list(self._memory) + list(self._inflight)
            self._memory.clear()
            self._ready = 0
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            wait = CLOSE_JOIN_TIMEOUT if timeout is None else max(timeout, 0.05)
            thread.join(min(CLOSE_JOIN_TIMEOUT, wait))
        if self.spool is None:
            unsettled = self._claim(left)
            if unsettled:
                logger.warning("%d command(s) not delivered before exit: each was reported to "
                               "its on_error and kept in dead_letters()", len(unsettled))
                self._fail(unsettled, NOT_DELIVERED, None, claimed=True, log=False)
        else:
            self._save_unsaved()
            if not delivered:
                logger.warning("closing with %d command(s) not yet delivered; they stay in spool "
                               "%s and go out with the next client using it",
                               self._unfinished, self.spool.path)
        if thread is None or not thread.is_alive():
            self.api.close()
            if self.spool is not None:
                self.spool.close()
        lifecycle.untrack(self)
        return delivered

    def dead_letters(self) -> list[DeadLetter]:
        """The refused commands: from the spool if there is one, else the latest in memory.

        In memory at most ``dead_letter_limit`` are kept (the oldest go first, counted in
        ``stats.dead_letters_dropped``, with a WARNING the first time); each was logged and
        reported to its ``on_error`` anyway.
        """
        if self.spool is not None:
            return self.spool.dead_letters()
        return list(self._dead)

    # -- consumer side -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                items = self._next_batch()
            except SpoolError as error:  # never fatal: wait, then try again
                self._unsaved.met(error, self.stats)
                if self._abort.wait(SPOOL_RETRY_INTERVAL):
                    return
                continue
            except Exception:
                logger.exception("the sender thread met an unexpected error; it goes on")
                if self._abort.wait(SPOOL_RETRY_INTERVAL):
                    return
                continue
            if items is None:
                return
            if items:
                try:
                    self._deliver(items)
                except Exception as error:  # a bug: fail loudly, go on
                    logger.exception("delivering a batch failed unexpectedly")
                    self._fail(items, f"internal error: {type(error).__name__}: {error}", None)
                finally:
                    with self._cond:  # unsettled ones (closed mid-retry) stay for close()
                        if all(item.settled for item in self._inflight):
                            self._inflight = []

    def _next_batch(self) -> list[Item] | None:
        """Wait for a batch to be due; None when the sender stops."""
        if self._unsaved.pending:
            self._save_unsaved()
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
                elif self.spool is not None and now - self._last_claim >= IDLE_CLAIM_INTERVAL:
                    break
                elif self._unsaved.pending:
                    self._cond.wait(SPOOL_RETRY_INTERVAL)
                    return []
                else:
                    self._cond.wait(IDLE_CLAIM_INTERVAL)
            n = min(self._ready, self.batch_size)
            self._ready -= n
            items: list[Item] = []
            if self.spool is None:
                sizes = [self._memory[i].size for i in range(n)]
                taken = take_batch(sizes, max_commands=n, max_bytes=self.max_batch_bytes)
                items = [self._memory.popleft() for _ in range(taken)]
                self._ready += n - taken
                self._inflight = items
            if self._ready == 0:
                self._first_ready = None
                self._immediate = False
            self._cond.notify_all()
        if self.spool is None:
            return items
        try:
            return self._take_spooled(n)
        except SpoolError:
            with self._cond:
                self._ready += n
            raise

    def _take_spooled(self, n: int) -> list[Item]:
        spool = self.spool
        assert spool is not None
        if n == 0:
            self._last_claim = time.monotonic()
            claimed = spool.claim_orphans()
            if claimed:
                with self._cond:
                    self._cursor = 0
                    self._add_ready(claimed, immediate=False)
            return []
        rows = spool.take_encoded(n, after=self._cursor, skip=self._unsaved.accepted)
        found = len(rows)
        rows = rows[:take_batch([len(text) for _, text in rows], max_commands=n,
                                max_bytes=self.max_batch_bytes)]
        with self._cond:
            items = [Item(text, len(text), command_id_of(text), self._calls.pop(i, None), i)
                     for i, text in rows]
            self._inflight = items
            self._ready += found - len(rows)  # over the byte bound: they go next
            if found < n:  # rows changed under us (another tool edited the spool)
                self._unfinished -= n - found
                self._cond.notify_all()
        if rows:
            self._cursor = rows[-1][0]
        return items

    def _save_unsaved(self) -> None:
        """Write the spool updates a fault kept back (delivered rows are deleted when it can)."""
        if self.spool is None:
            return
        with self._cond:
            accepted, dead = self._unsaved.take()
        if self._spool_finish(accepted, dead):
            self._unsaved.saved(self.spool.path, len(accepted))

    def _spool_finish(self, accepted: list[int], dead: list[tuple[int, int | None, str]]
                      ) -> bool:
        """Update the spool; on a fault, keep the update in memory for :meth:`_save_unsaved`."""
        if self.spool is None or (not accepted and not dead):
            return False
        try:
            self.spool.finish(accepted, dead)
        except SpoolError as error:
            self._unsaved.met(error, self.stats)
            with self._cond:
                self._unsaved.keep(accepted, dead)
            return False
        return True

    def _deliver(self, items: list[Item]) -> None:
        started = time.monotonic()
        attempt = 0
        texts = [item.text for item in items]
        ids = [item.command_id for item in items]
        while True:
            wait = self._rate.reserve(time.monotonic())
            if wait > 0:
                self._abort.wait(wait)
            self.stats.requests += 1
            try:
                results = self.api.batch(texts, command_ids=ids)
            except APIError as error:
                delay = self.retry.delay(error, attempt, time.monotonic() - started, self._rng)
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

    def _claim(self, items: list[Item]) -> list[Item]:
        """The items not settled yet, now marked settled (each is settled exactly once)."""
        with self._cond:
            return claim(items)

    def _settle(self, items: list[Item], results: list[CommandResult]) -> None:
        verdicts = dict(zip((id(i) for i in items), results, strict=True))
        fresh = self._claim(items)
        accepted = [item for item in fresh if verdicts[id(item)].success]
        dead = [(item, verdicts[id(item)].reason) for item in fresh
                if not verdicts[id(item)].success]
        self._spool_finish([i.spool_id for i in accepted if i.spool_id is not None],
                           [(i.spool_id, None, reason) for i, reason in dead
                            if i.spool_id is not None])
        self._report(accepted, dead)
        self._finished(len(fresh))

    def _fail(self, items: list[Item], reason: str, status: int | None, *,
              claimed: bool = False, log: bool = True) -> None:
        fresh = items if claimed else self._claim(items)
        self._spool_finish([], [(i.spool_id, status, reason) for i in fresh
                                if i.spool_id is not None])
        self._report([], [(item, reason) for item in fresh], status, log=log)
        self._finished(len(fresh))

    def _abandon(self, items: list[Item], reason: str) -> None:
        """The client closed mid-retry: spooled commands wait on disk, others fail."""
        if self.spool is None:
            return  # close() reports them (they are in flight) with one WARNING
        logger.warning("closing while retrying (%s); %d command(s) stay in spool %s",
                       reason, len(items), self.spool.path)

    def _finished(self, n: int) -> None:
        if not n:
            return
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
            logger.info("exit: flushing %d command(s) for up to %.1f s", self._unfinished,
                        timeout)
        self.close(timeout)
