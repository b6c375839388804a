"""The asyncio sender: one background task per client, batches, retries, dead letters, a spool.

:class:`AsyncSender` keeps the thread-based :class:`~ga_ee_bridge.send.sender.Sender`'s rules
(:mod:`ga_ee_bridge.send.policy`: batches of 50, backoff with jitter, ``Retry-After``, the rate
limit, dead letters) on an event loop. Everything runs on the loop except the spool: its SQLite
work runs in one worker thread, and the writes of all calls that arrive while one is running are
committed together (group commit), so a burst of calls costs the loop microseconds each.

Cancellation: a call cancelled while it waits for room or for its spool write to begin queued
nothing and raises; once its write began, its commands are queued (all of them, never some) and
will be delivered, and the cancellation still propagates.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import logging
import os
import random
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ga_ee_bridge.errors import QueueFullError
from ga_ee_bridge.send.async_request import AsyncTrackingAPI
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
from ga_ee_bridge.send.request import APIError, CommandResult
from ga_ee_bridge.send.sender import (
    _IDLE_WAIT,
    MAX_BATCH,
    OnError,
    OnSuccess,
    SenderStats,
    _Call,
    _Item,
    _safely,
)
from ga_ee_bridge.send.spool import DeadLetter, Spool

__all__ = ["AsyncSender"]

logger = logging.getLogger("ga_ee_bridge.send.async_sender")

T = TypeVar("T")


class _Write:
    """One call's commands waiting for (or in) a group-committed spool write."""

    __slots__ = ("call", "commands", "future", "immediate", "queued", "task")

    def __init__(self, commands: Sequence[dict[str, Any]], call: _Call | None, immediate: bool,
                 queued: Callable[[], object] | None, future: asyncio.Future[None]) -> None:
        self.commands = commands
        self.call = call
        self.immediate = immediate
        self.queued = queued
        self.future = future
        self.task = asyncio.current_task()


class AsyncSender:
    """Delivers Tracking API commands from a task on one event loop; see the module docstring."""

    def __init__(
        self,
        api: AsyncTrackingAPI,
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
        self.stats = SenderStats()
        self._dead: collections.deque[DeadLetter] = collections.deque(maxlen=dead_letter_limit)
        self._closed = False
        self._init_runtime()
        _live_senders.add(self)

    def _init_runtime(self) -> None:
        """State that a forked child must not share with its parent (nor its loop or threads)."""
        self._memory: collections.deque[_Item] = collections.deque()
        self._calls: dict[int, _Call] = {}  # spool id -> call, for spooled commands
        self._ready = 0  # queued and not yet taken by the consumer
        self._unfinished = 0  # queued and not yet accepted or failed
        self._first_ready: float | None = None
        self._immediate = False
        self._flushing = 0
        self._closing = False
        self._inflight: list[_Item] = []
        self._interruptible = False  # the task waits for the network or a retry: close cancels
        self._cursor = 0
        self._next_slot = 0.0
        self._rng = random.Random()
        self._last_claim = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._wake = asyncio.Event()  # the consumer may have a batch due
        self._changed = asyncio.Event()  # replaced on every change of the counts (notify all)
        self._abort = asyncio.Event()
        self._writes: list[_Write] = []  # waiting for the next group commit
        self._writing: asyncio.Future[list[int]] | None = None
        self._background: set[asyncio.Future[Any]] = set()  # async callbacks, spool clean-ups
        self._executor = (ThreadPoolExecutor(1, thread_name_prefix="ga-ee-bridge-spool")
                          if self.spool is not None else None)

    def _after_fork_in_child(self) -> None:
        """The child starts empty, unbound, with its own connections: the parent sends its own."""
        self._init_runtime()
        self.api.reset_after_fork()
        if self.spool is not None:
            self.spool.reset_after_fork()

    def __repr__(self) -> str:
        return (f"AsyncSender(api={self.api!r}, spool={self.spool!r}, "
                f"queued={self._unfinished}, closed={self._closed})")

    @property
    def queued(self) -> int:
        """Commands queued and not yet accepted or failed."""
        return self._unfinished

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
        loop = self._bind()
        return await loop.run_in_executor(self._executor, function, *args)

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
            self._task = self._bind().create_task(self._run(), name="ga-ee-bridge-sender")

    def _notify(self) -> None:
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

        With a spool, returns once they are on disk. Without one, waits up to ``queue_timeout``
        for room and then raises :class:`QueueFullError` (nothing of this call is queued).
        """
        if self._closed:
            raise RuntimeError("this client is closed; nothing was queued")
        await self.start()
        success, error = self._adapt(on_success), self._adapt(on_error)
        if not commands:
            if queued is not None:
                queued()
            if success is not None:
                _safely(success)
            return
        call = _Call(len(commands), success, error) if (success or error) else None
        if self.spool is not None:
            await self._submit_spooled(commands, call, immediate, queued)
            return
        n = len(commands)
        if self._memory and len(self._memory) + n > self.max_queue_size:
            deadline = time.monotonic() + self.queue_timeout
            while self._memory and len(self._memory) + n > self.max_queue_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise QueueFullError(
                        f"the send queue stayed full ({len(self._memory)} commands) for "
                        f"{self.queue_timeout:g} s; {n} command(s) not queued")
                await self._wait_change(remaining)
            if self._closed:
                raise RuntimeError("this client was closed while the call waited; nothing queued")
        self._memory.extend([_Item(c, call) for c in commands])
        self._add_ready(n, immediate)
        if queued is not None:
            queued()

    async def _submit_spooled(self, commands: Sequence[dict[str, Any]], call: _Call | None,
                              immediate: bool, queued: Callable[[], object] | None) -> None:
        write = _Write(commands, call, immediate, queued, self._bind().create_future())
        self._writes.append(write)
        if self._writing is None:
            self._start_write()
        try:
            await asyncio.shield(write.future)
        except asyncio.CancelledError:
            if write in self._writes:  # its write had not begun: withdraw it, nothing queued
                self._writes.remove(write)
                write.future.cancel()
            raise  # (once its write began, a cancel cannot undo it: it stays queued)

    def _start_write(self) -> None:
        group: list[_Write] = []
        for write in self._writes:
            if write.task is not None and write.task.cancelling():
                write.future.cancel()  # its caller is being cancelled: withdraw, queue nothing
            else:
                group.append(write)
        self._writes = []
        if not group:
            return
        assert self.spool is not None and self._executor is not None
        commands = [c for w in group for c in w.commands]
        self._writing = self._bind().run_in_executor(self._executor, self.spool.add, commands)
        self._writing.add_done_callback(lambda done: self._written(group, done))

    def _written(self, group: list[_Write], done: asyncio.Future[list[int]]) -> None:
        """A group commit ended (on the loop): count and release its calls, start the next."""
        self._writing = None
        failure = None if done.cancelled() else done.exception()
        if done.cancelled() or failure is not None:
            for write in group:  # the callers raise it: nothing of their calls was queued
                gone = write.task is not None and (write.task.done() or write.task.cancelling())
                if failure is None or gone:
                    write.future.cancel()
                    if failure is not None:  # its caller was cancelled: nobody else will say it
                        logger.error("spool %s: %d command(s) of a cancelled call could not be "
                                     "stored: %s", self.spool.path if self.spool else None,
                                     len(write.commands), failure)
                else:
                    write.future.set_exception(failure)
        else:
            ids = done.result()
            start = 0
            for write in group:
                mine = ids[start:start + len(write.commands)]
                start += len(write.commands)
                if write.call is not None:
                    for spool_id in mine:
                        self._calls[spool_id] = write.call
                self._add_ready(len(mine), write.immediate)
                if write.queued is not None:
                    write.queued()
                if not write.future.done():
                    write.future.set_result(None)
        if self._writes:
            self._start_write()
        else:
            self._notify()

    def _add_ready(self, n: int, immediate: bool) -> None:
        was_ready = self._ready
        if was_ready == 0:
            self._first_ready = time.monotonic()
        self._ready = was_ready + n
        self._unfinished += n
        if immediate:
            self._immediate = True
        if wakes_consumer(was_ready, self._ready, immediate, self.batch_size):
            self._wake.set()
        self._notify()
        self._ensure_task()

    async def _writes_done(self, deadline: float | None) -> None:
        while self._writing is not None or self._writes:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            await self._wait_change(remaining)

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
        stranded = self._inflight + list(self._memory)
        self._inflight = []
        self._memory.clear()
        self._ready = 0
        if self.spool is None:
            if stranded:
                logger.warning("closing with %d command(s) not delivered; each goes to its "
                               "call's on_error and the dead letters", len(stranded))
                await self._fail(stranded, CLOSED_REASON, None)
        elif self._unfinished:
            logger.warning("closing with %d command(s) not yet delivered; they stay in spool %s "
                           "and go out with the next client using it",
                           self._unfinished, self.spool.path)
        if self._background:
            await asyncio.wait(list(self._background), timeout=5.0)
        await self.api.aclose()
        if self.spool is not None and self._executor is not None:
            if self._started:
                await self._on_spool(self.spool.close)
            else:
                self.spool.close()
            self._executor.shutdown(wait=False)

    async def dead_letters(self) -> list[DeadLetter]:
        """The refused commands: from the spool if there is one, else the latest in memory."""
        if self.spool is not None:
            return await self._on_spool(self.spool.dead_letters)
        return list(self._dead)

    # -- consumer side -----------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                items = await self._next_batch()
                if items is None:
                    return
                if items:
                    try:
                        await self._deliver(items)
                    except Exception as error:  # a bug or a broken spool: fail loudly, go on
                        logger.exception("delivering a batch failed unexpectedly")
                        self._interruptible = False
                        self._inflight = []
                        await self._fail(items, f"internal error: {type(error).__name__}: "
                                         f"{error}", None)
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

    async def _next_batch(self) -> list[_Item] | None:
        """Wait for a batch to be due; None when the sender stops."""
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
            elif self.spool is not None and now - self._last_claim >= _IDLE_WAIT:
                break
            else:
                await self._sleep(_IDLE_WAIT)
        n = min(self._ready, self.batch_size)
        self._ready -= n
        if self._ready == 0:
            self._first_ready = None
            self._immediate = False
        if self.spool is None:
            items = [self._memory.popleft() for _ in range(n)]
            self._notify()  # room in the queue
            return items
        if n == 0:
            self._last_claim = time.monotonic()
            claimed = await self._on_spool(self.spool.claim_orphans)
            if claimed:
                self._cursor = 0
                self._add_ready(claimed, immediate=False)
            return []
        rows = await self._on_spool(functools.partial(self.spool.take, n, after=self._cursor))
        items = [_Item(cmd, self._calls.pop(i, None), i) for i, cmd in rows]
        if len(rows) < n:  # rows changed under us (another tool edited the spool)
            self._unfinished -= n - len(rows)
            self._notify()
        if rows:
            self._cursor = rows[-1][0]
        return items

    async def _wait_rate_slot(self) -> None:
        if self.max_rps is None:
            return
        wait, self._next_slot = rate_slot(time.monotonic(), self._next_slot, self.max_rps)
        if wait > 0:
            await asyncio.sleep(wait)

    async def _deliver(self, items: list[_Item]) -> None:
        self._inflight = items
        started = time.monotonic()
        attempt = 0
        commands = [item.command for item in items]
        while True:
            if self._abort.is_set():
                return  # closing: the items stay in flight (close reports them)
            self._interruptible = True
            try:
                await self._wait_rate_slot()
                self.stats.requests += 1
                results = await self.api.batch(commands)
            except APIError as error:
                delay = retry_delay(error, attempt, time.monotonic() - started,
                                    backoff=self.backoff, max_backoff=self.max_backoff,
                                    max_retry_time=self.max_retry_time, rng=self._rng)
                self._interruptible = False
                if delay is None:
                    self._inflight = []
                    await self._fail(items, error.message, error.status)
                    return
                self.stats.retries += 1
                logger.info("batch of %d failed (%s); retry %d in %.2f s", len(items),
                            error.message, attempt + 1, delay)
                self._interruptible = True
                await asyncio.sleep(delay)  # close() cancels this task: the items are stranded
                self._interruptible = False
                attempt += 1
                continue
            self._interruptible = False
            self._inflight = []
            await self._settle(items, results)
            return

    async def _settle(self, items: list[_Item], results: list[CommandResult]) -> None:
        accepted_at, refused_at = split_results(results, len(items))
        accepted = [items[i] for i in accepted_at]
        refused = [(items[i], reason) for i, reason in refused_at]
        if self.spool is not None:
            await self._on_spool(
                self.spool.finish, [i.spool_id for i in accepted if i.spool_id is not None],
                [(i.spool_id, None, reason) for i, reason in refused if i.spool_id is not None])
        self.stats.accepted += len(accepted)
        for item in accepted:
            if item.call is not None:
                item.call.done(None)
        for item, reason in refused:
            self._record_failure(item, reason, None)
        self._finished(len(items))

    async def _fail(self, items: list[_Item], reason: str, status: int | None) -> None:
        if self.spool is not None:
            await self._finish_on_spool([], [(i.spool_id, status, reason) for i in items
                                             if i.spool_id is not None])
        for item in items:
            self._record_failure(item, reason, status)
        self._finished(len(items))

    async def _finish_on_spool(self, accepted: list[int],
                               dead: list[tuple[int, int | None, str]]) -> None:
        assert self.spool is not None
        try:
            await self._on_spool(self.spool.finish, accepted, dead)
        except Exception:
            logger.exception("spool %s: could not record %d dead letter(s)", self.spool.path,
                             len(dead))

    def _record_failure(self, item: _Item, reason: str, status: int | None) -> None:
        error = record_failure(self.stats, item.command, reason, status,
                               dead=self._dead if self.spool is None else None, log=logger)
        if item.call is not None:
            item.call.done(error)

    def _finished(self, n: int) -> None:
        self._unfinished -= n
        self._notify()


_live_senders: weakref.WeakSet[AsyncSender] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for sender in list(_live_senders):
        sender._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
