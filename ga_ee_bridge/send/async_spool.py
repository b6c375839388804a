"""A spool used from asyncio: its SQLite work in one worker thread, calls' writes group-committed.

:class:`SpoolThread` runs every :class:`~ga_ee_bridge.send.spool.Spool` method in one worker thread
(so the loop never waits on SQLite or an fsync), and combines the writes of all calls that arrive
while one is running into the next single :meth:`Spool.add` (group commit). A write's failure
(:class:`~ga_ee_bridge.errors.SpoolError`) is raised to each of its callers.

Cancellation: a call cancelled before its write began is withdrawn (nothing stored, it raises);
once its write began it cannot be undone, so its ``stored`` callback still runs (its commands are
queued, all of them) and the cancellation propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ga_ee_bridge.send.spool import Spool

__all__ = ["SpoolThread"]

logger = logging.getLogger("ga_ee_bridge.send.async_sender")

T = TypeVar("T")


class _Write:
    """One call's commands waiting for (or in) a group-committed spool write."""

    __slots__ = ("commands", "future", "stored", "task")

    def __init__(self, commands: Sequence[str], stored: Callable[[list[int]], object],
                 future: asyncio.Future[None]) -> None:
        self.commands = commands
        self.stored = stored
        self.future = future
        self.task = asyncio.current_task()


class SpoolThread:
    """A :class:`Spool` driven from one event loop; see the module docstring."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ga-ee-bridge-spool")
        self._writes: list[_Write] = []  # waiting for the next group commit
        self._writing: asyncio.Future[list[int]] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run a spool method in the worker thread (all spool work is serialised there)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def add(self, commands: Sequence[str], stored: Callable[[list[int]], object]) -> None:
        """Store encoded commands in the next group commit; ``stored(ids)`` runs once they are.

        Raises the write's :class:`~ga_ee_bridge.errors.SpoolError` (nothing stored then).
        """
        write = _Write(commands, stored, asyncio.get_running_loop().create_future())
        self._writes.append(write)
        self._idle.clear()
        if self._writing is None:
            self._start_write()
        try:
            await asyncio.shield(write.future)
        except asyncio.CancelledError:
            if write in self._writes:  # its write had not begun: withdraw it, nothing queued
                self._writes.remove(write)
                write.future.cancel()
                if not self._writes and self._writing is None:
                    self._idle.set()
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
            self._idle.set()
            return
        commands = [c for w in group for c in w.commands]
        self._writing = asyncio.get_running_loop().run_in_executor(
            self._executor, self.spool.add, commands)
        self._writing.add_done_callback(lambda done: self._written(group, done))

    def _written(self, group: list[_Write], done: asyncio.Future[list[int]]) -> None:
        """A group commit ended (on the loop): release its calls, start the next."""
        self._writing = None
        failure = None if done.cancelled() else done.exception()
        if done.cancelled() or failure is not None:
            for write in group:  # the callers raise it: nothing of their calls was queued
                gone = write.task is not None and (write.task.done() or write.task.cancelling())
                if failure is None or gone:
                    write.future.cancel()
                    if failure is not None:  # its caller was cancelled: nobody else will say it
                        logger.error("spool %s: %d command(s) of a cancelled call could not be "
                                     "stored: %s", self.spool.path, len(write.commands), failure)
                else:
                    write.future.set_exception(failure)
        else:
            ids = done.result()
            start = 0
            for write in group:
                mine = ids[start:start + len(write.commands)]
                start += len(write.commands)
                write.stored(mine)
                if not write.future.done():
                    write.future.set_result(None)
        if self._writes:
            self._start_write()
        else:
            self._idle.set()

    async def wait_idle(self, timeout: float | None) -> None:
        """Wait (up to ``timeout``) until no write is queued or running."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()

    def shutdown(self) -> None:
        """Let the worker thread go (after the spool was closed through :meth:`run`)."""
        self._executor.shutdown(wait=False)
