"""The asyncio sender: one background task per client, batches, retries, dead letters, a spool.

:class:`AsyncSender` keeps the thread-based :class:`~ga_ee_bridge.send.sender.Sender`'s rules
(:mod:`ga_ee_bridge.send.policy`: ``command_id`` on every command and results matched by it,
batches bounded in commands and bytes, backoff with jitter, ``Retry-After``, the rate limit; and
:mod:`ga_ee_bridge.send.calls`: callbacks, dead letters) on an event loop. Everything runs on
the loop except the spool (:mod:`ga_ee_bridge.send.async_spool`: a worker thread, group commit),
so a burst of calls costs the loop microseconds each.

Cancellation: a call cancelled while it waits for room or for its spool write to begin queued
nothing and raises; once its write began, its commands are queued (all of them, never some) and
will be delivered, and the cancellation still propagates.

At ``close()`` every command not confirmed reaches its ``on_error`` (``NOT_DELIVERED``) with one
WARNING for the lot, or stays in the spool. A client never closed is reported the same way at
interpreter exit (or a multiprocessing child's end); nothing can be sent then, the loop is gone.
Spool faults never stop the task: it retries, and delivered rows are deleted once it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ga_ee_bridge.errors import SpoolError
from ga_ee_bridge.send import lifecycle
from ga_ee_bridge.send.async_request import AsyncTrackingAPI
from ga_ee_bridge.send.async_spool import SpoolThread
from ga_ee_bridge.send.calls import (
    SPOOL_RETRY_INTERVAL,
    Call,
    Item,
    OnError,
    OnSuccess,
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
from ga_ee_bridge.send.request import APIError, CommandResult
from ga_ee_bridge.send.sender_base import IDLE_CLAIM_INTERVAL, SenderBase, queue_full
from ga_ee_bridge.send.spool import DeadLetter

__all__ = ["AsyncSender"]

logger = logging.getLogger("ga_ee_bridge.send.async_sender")

T = TypeVar("T")


class AsyncSender(SenderBase[AsyncTrackingAPI]):
    """Delivers Tracking API commands from a task on one event loop; see the module docstring.

    Its options are :class:`~ga_ee_bridge.send.sender_base.SenderBase`'s, as the sync sender's.
    """

    def _init_runtime(self) -> None:
        """State that a forked child must not share with its parent (nor its loop or threads)."""
        super()._init_runtime()
        self._interruptible = False  # the task waits for the network or a retry: close cancels
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._wake = asyncio.Event()  # the consumer may have a batch due
        self._changed = asyncio.Event()  # replaced on every change of the counts (notify all)
        self._abort = asyncio.Event()
        self._background: set[asyncio.Future[Any]] = set()  # async callbacks
        self._spooler = SpoolThread(self.spool) if self.spool is not None else None

    def _after_fork_in_child(self) -> None:
        """The child starts empty, unbound, with its own connections: the parent sends its own."""
        self._init_runtime()
        self.api.reset_after_fork()
        if self.spool is not None:
            self.spool.reset_after_fork()

    def __repr__(self) -> str:
        return (f"AsyncSender(api={self.api!r}, spool={self.spool!r}, "
                f"queued={self._unfinished}, closed={self._closed})")

    # -- the loop and the spool thread --------------------------------------------------------

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("this AsyncExponea belongs to another event loop (the one it was "
                               "first used on); make one client per loop")
        return loop

    async def _on_spool(self, function: Callable[..., T], *args: Any) -> T:
        """Run a spool method in the spool's worker thread (all spool work is serialised there)."""
        self._bind()
        assert self._spooler is not None
        return await self._spooler.run(function, *args)

    async def start(self) -> None:
        """Bind to the running loop, take over a dead process's spooled commands, start the task."""
        self._bind()
        if not self._started:
            self._started = True
            if self.spool is not None:
                claimed = await self._on_spool(self.spool.claim_orphans)
                if claimed:
                    self._add_ready(claimed, immediate=False)
        self._ensure_task()

    def _ensure_task(self) -> None:
        if self._closed and self._abort.is_set():
            return
        if self._task is None or self._task.done():
            lifecycle.hook_process_end()
            self._task = self._bind().create_task(self._run(), name="ga-ee-bridge-sender")

    def _notify(self) -> None:
        with contextlib.suppress(RuntimeError):  # at exit, waiters of a closed loop
            self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float | None) -> None:
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await changed.wait()

    def _adapt(self, callback: Callable[..., object] | None) -> Callable[..., object] | None:
        """A callback that may be sync or async: a coroutine it returns runs as a task."""
        if callback is None:
            return None

        def run(*args: Any) -> None:
            result = callback(*args)
            if inspect.isawaitable(result):
                try:
                    asyncio.get_running_loop()
                except RuntimeError:  # at exit, the loop is gone: the coroutine cannot run
                    if inspect.iscoroutine(result):
                        result.close()
                    logger.warning("an async delivery callback could not run: no event loop")
                    return
                self._track_background(asyncio.ensure_future(result))

        return run

    def _track_background(self, future: asyncio.Future[Any]) -> None:
        self._background.add(future)
        future.add_done_callback(self._background_done)

    def _background_done(self, future: asyncio.Future[Any]) -> None:
        self._background.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("a delivery callback raised; the sender goes on",
                         exc_info=future.exception())

    # -- producer side -----------------------------------------------------------------------

    async def submit(self, commands: Sequence[dict[str, Any]], *,
                     on_success: OnSuccess | None = None, on_error: OnError | None = None,
                     immediate: bool = False, queued: Callable[[], object] | None = None) -> None:
        """Queue ready-made commands (validated and time-stamped); ``queued()`` runs once they are.

        Each gets a ``command_id`` unless it has one; a message of 800 KB or more raises
        ``ValueError``. With a spool, returns once they are on disk or raises :class:`SpoolError`.
        Without one, waits up to ``queue_timeout`` for room and then raises
        :class:`QueueFullError`. Either way nothing of a call that raised is queued.
        """
        if self._closed:
            raise RuntimeError("this client is closed; nothing was queued")
        await self.start()
        success, error = self._adapt(on_success), self._adapt(on_error)
        if not commands:
            if queued is not None:
                queued()
            if success is not None:
                safely(success)
            return
        items = encode_items(commands, self._ids)
        call = Call(len(items), success, error) if (success or error) else None
        if self.spool is not None:
            await self._submit_spooled([item.text for item in items], call, immediate, queued)
            return
        for item in items:
            item.call = call
        n = len(items)
        if self._memory and len(self._memory) + n > self.max_queue_size:
            deadline = time.monotonic() + self.queue_timeout
            while self._memory and len(self._memory) + n > self.max_queue_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise queue_full(len(self._memory), self.queue_timeout, n)
                await self._wait_change(remaining)
            if self._closed:
                raise RuntimeError("this client was closed while the call waited; nothing queued")
        self._memory.extend(items)
        self._add_ready(n, immediate)
        if queued is not None:
            queued()

    async def _submit_spooled(self, commands: Sequence[str], call: Call | None,
                              immediate: bool, queued: Callable[[], object] | None) -> None:
        self._bind()
        assert self._spooler is not None

        def stored(ids: list[int]) -> None:
            if call is not None:
                for spool_id in ids:
                    self._calls[spool_id] = call
            self._add_ready(len(ids), immediate)
            if queued is not None:
                queued()

        await self._spooler.add(commands, stored)

    def _add_ready(self, n: int, immediate: bool) -> None:
        if self._count_ready(n, immediate):
            self._wake.set()
        self._notify()
        self._ensure_task()

    async def _writes_done(self, deadline: float | None) -> None:
        if self._spooler is not None:
            await self._spooler.wait_idle(None if deadline is None
                                          else max(0.0, deadline - time.monotonic()))

    # -- flush and close ---------------------------------------------------------------------

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued command was accepted or failed; False if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._abort.is_set():
            await self.start()
        self._flushing += 1
        self._wake.set()
        try:
            while self._unfinished > 0:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                await self._wait_change(remaining)
            return True
        finally:
            self._flushing -= 1

    async def close(self, timeout: float | None = None) -> bool:
        """Flush (up to ``timeout``), then stop; True when everything was delivered.

        Undelivered commands stay in the spool if there is one; without a spool they fail
        (``on_error``, log, dead letters). Either way a WARNING log line gives the count.
        """
        if self._closed:
            return self._unfinished == 0
        self._closed = True
        self._closing = True
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            await self._writes_done(deadline)
            delivered = await self.flush(None if deadline is None
                                         else max(0.0, deadline - time.monotonic()))
        finally:
            await self._stop()
        return delivered

    async def _stop(self) -> None:
        self._abort.set()
        self._wake.set()
        task = self._task
        if task is not None and not task.done():
            if self._interruptible:
                task.cancel()  # a request in flight or a retry's wait ends now
            await asyncio.wait([task], timeout=5.0)
            if not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=1.0)
        self._report_left()
        if self.spool is not None:
            await self._save_unsaved()
        if self._background:
            await asyncio.wait(list(self._background), timeout=5.0)
        await self.api.aclose()
        if self.spool is not None and self._spooler is not None:
            if self._started:
                await self._on_spool(self.spool.close)
            else:
                self.spool.close()
            self._spooler.shutdown()

    def _report_left(self) -> None:
        """What is not confirmed reaches ``on_error`` (or stays in the spool); one WARNING."""
        left = self._inflight + list(self._memory)
        self._memory.clear()
        self._ready = 0
        if self.spool is None:
            unsettled = claim(left)
            if unsettled:
                logger.warning("%d command(s) not delivered before exit: each was reported to "
                               "its on_error and kept in dead_letters()", len(unsettled))
                self._report([], [(item, NOT_DELIVERED) for item in unsettled], log=False)
                self._finished(len(unsettled))
        elif self._unfinished:
            logger.warning("closing with %d command(s) not yet delivered; they stay in spool %s "
                           "and go out with the next client using it",
                           self._unfinished, self.spool.path)

    async def dead_letters(self) -> list[DeadLetter]:
        """The refused commands: from the spool if there is one, else the latest in memory."""
        if self.spool is not None:
            return await self._on_spool(self.spool.dead_letters)
        return list(self._dead)

    # -- consumer side -----------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                try:
                    items = await self._next_batch()
                except SpoolError as error:  # never fatal: wait, then try again
                    self._unsaved.met(error, self.stats)
                    await self._sleep(SPOOL_RETRY_INTERVAL)
                    continue
                if items is None:
                    return
                if items:
                    try:
                        await self._deliver(items)
                    except Exception as error:  # a bug: fail loudly, go on
                        logger.exception("delivering a batch failed unexpectedly")
                        self._interruptible = False
                        await self._fail(items, f"internal error: {type(error).__name__}: "
                                         f"{error}", None)
                    finally:
                        if all(item.settled for item in self._inflight):
                            self._inflight = []  # unsettled ones stay for close()
        except asyncio.CancelledError:
            if not self._abort.is_set() and self._unfinished:  # not by close(): the loop ends
                logger.warning("the sender task was cancelled with %d command(s) not delivered "
                               "(the event loop is shutting down?); close the client (async with, "
                               "or await close() in your app's shutdown)", self._unfinished)
            raise
        except Exception:
            logger.exception("the sender task failed; %d command(s) not delivered yet (it "
                             "restarts with the next call)", self._unfinished)

    async def _sleep(self, timeout: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _next_batch(self) -> list[Item] | None:
        """Wait for a batch to be due; None when the sender stops."""
        if self._unsaved.pending:
            await self._save_unsaved()
        while True:
            if self._abort.is_set():
                return None
            now = time.monotonic()
            if self._ready > 0:
                wait = batch_wait(self._ready, self._first_ready, now, batch_size=self.batch_size,
                                  flush_interval=self.flush_interval,
                                  urgent=bool(self._immediate or self._flushing or self._closing))
                if wait <= 0:
                    break
                await self._sleep(wait)
            elif self._closing:
                return None
            elif self.spool is not None and now - self._last_claim >= IDLE_CLAIM_INTERVAL:
                break
            elif self._unsaved.pending:
                await self._sleep(SPOOL_RETRY_INTERVAL)
                return []
            else:
                await self._sleep(IDLE_CLAIM_INTERVAL)
        n = min(self._ready, self.batch_size)
        if self.spool is None:
            taken = take_batch([self._memory[i].size for i in range(n)], max_commands=n,
                               max_bytes=self.max_batch_bytes)
            items = [self._memory.popleft() for _ in range(taken)]
            self._inflight = items
            self._taken(taken)
            self._notify()  # room in the queue
            return items
        if n == 0:
            self._last_claim = time.monotonic()
            claimed = await self._on_spool(self.spool.claim_orphans)
            if claimed:
                self._cursor = 0
                self._add_ready(claimed, immediate=False)
            return []
        rows = await self._on_spool(functools.partial(
            self.spool.take_encoded, n, after=self._cursor, skip=list(self._unsaved.accepted)))
        found = len(rows)
        rows = rows[:take_batch([len(text) for _, text in rows], max_commands=n,
                                max_bytes=self.max_batch_bytes)]
        items = [Item(text, len(text), command_id_of(text), self._calls.pop(i, None), i)
                 for i, text in rows]
        self._inflight = items
        self._taken(len(rows))
        if found < n:  # rows changed under us (another tool edited the spool)
            self._ready -= n - found
            self._unfinished -= n - found
            self._notify()
        if rows:
            self._cursor = rows[-1][0]
        return items

    def _taken(self, n: int) -> None:
        self._ready -= n
        if self._ready <= 0:
            self._ready = 0
            self._first_ready = None
            self._immediate = False

    async def _deliver(self, items: list[Item]) -> None:
        started = time.monotonic()
        attempt = 0
        texts = [item.text for item in items]
        ids = [item.command_id for item in items]
        while True:
            if self._abort.is_set():
                return  # closing: the items stay in flight (close reports them)
            self._interruptible = True
            try:
                wait = self._rate.reserve(time.monotonic())
                if wait > 0:
                    await asyncio.sleep(wait)
                self.stats.requests += 1
                results = await self.api.batch(texts, command_ids=ids)
            except APIError as error:
                self._interruptible = False
                delay = self.retry.delay(error, attempt, time.monotonic() - started, self._rng)
                if delay is None:
                    await self._fail(items, error.message, error.status)
                    return
                self.stats.retries += 1
                logger.info("batch of %d failed (%s); retry %d in %.2f s", len(items),
                            error.message, attempt + 1, delay)
                self._interruptible = True
                await asyncio.sleep(delay)  # close() cancels this task: the items stay in flight
                self._interruptible = False
                attempt += 1
                continue
            self._interruptible = False
            await self._settle(items, results)
            return

    async def _settle(self, items: list[Item], results: list[CommandResult]) -> None:
        verdicts = dict(zip((id(i) for i in items), results, strict=True))
        fresh = claim(items)
        accepted = [item for item in fresh if verdicts[id(item)].success]
        dead = [(item, verdicts[id(item)].reason) for item in fresh
                if not verdicts[id(item)].success]
        try:  # the spool first (as the sync sender): a flush that returned has deleted them
            await self._spool_finish([i.spool_id for i in accepted if i.spool_id is not None],
                                     [(i.spool_id, None, reason) for i, reason in dead
                                      if i.spool_id is not None])
        finally:  # even when close() cancels the task meanwhile: each is reported once
            self._report(accepted, dead)
            self._finished(len(fresh))

    async def _fail(self, items: list[Item], reason: str, status: int | None) -> None:
        fresh = claim(items)
        try:
            await self._spool_finish([], [(i.spool_id, status, reason) for i in fresh
                                          if i.spool_id is not None])
        finally:
            self._report([], [(item, reason) for item in fresh], status)
            self._finished(len(fresh))

    async def _spool_finish(self, accepted: list[int],
                            dead: list[tuple[int, int | None, str]]) -> bool:
        """Update the spool; on a fault, keep the update for :meth:`_save_unsaved`."""
        if self.spool is None or (not accepted and not dead):
            return False
        try:
            await self._on_spool(self.spool.finish, accepted, dead)
        except SpoolError as error:
            self._unsaved.met(error, self.stats)
            self._unsaved.keep(accepted, dead)
            return False
        return True

    async def _save_unsaved(self) -> None:
        """Write the spool updates a fault kept back (delivered rows are deleted when it can)."""
        accepted, dead = self._unsaved.take()
        if await self._spool_finish(accepted, dead):
            self._unsaved.saved(self.spool.path if self.spool else None, len(accepted))

    def _finished(self, n: int) -> None:
        if not n:
            return
        self._unfinished -= n
        self._notify()

    # -- process lifecycle -------------------------------------------------------------------

    def _close_at_exit(self, deadline: float) -> None:
        """At exit without ``close()``: the loop is gone, so report what is left (or keep it)."""
        if self._closed:
            return
        self._closed = True
        self._abort.set()
        self._report_left()
        if self.spool is not None:
            self.spool.close()
