"""Process ends and forks for every live sender: exit, multiprocessing and billiard children.

At interpreter exit (``atexit``), at the end of a ``multiprocessing`` (or billiard) Pool or Process
child (their ``Finalize`` hooks: they end with ``os._exit()``, which runs no ``atexit``) and at the
end of a Celery prefork child (its ``worker_process_shutdown`` signal), every live sender gets a
flush bounded by its ``exit_timeout``. After
``os.fork()`` each gets an empty queue, thread, connection pool and spool owner in the child. A
raw ``os.fork()`` child that ends with ``os._exit()`` runs none of these hooks.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import time
import weakref
from typing import Protocol

__all__ = ["hook_process_end", "track", "untrack"]

logger = logging.getLogger("ga_ee_bridge.send.sender")


class _Hooked(Protocol):
    exit_timeout: float
    _closed: bool

    def _after_fork_in_child(self) -> None: ...

    def _close_at_exit(self, deadline: float) -> None: ...


_live: weakref.WeakSet[_Hooked] = weakref.WeakSet()
_hooked_pid: int | None = None


def track(sender: _Hooked) -> None:
    """Flush ``sender`` when the process ends; reset it in a forked child."""
    _live.add(sender)


def untrack(sender: _Hooked) -> None:
    """Forget a closed sender."""
    _live.discard(sender)


def hook_process_end() -> None:
    """In this process, flush at the end of a multiprocessing (or billiard) child too.

    Called when a sender starts its thread (after the fork, in a child), once per process.
    """
    global _hooked_pid
    pid = os.getpid()
    if _hooked_pid == pid:
        return
    _hooked_pid = pid
    import multiprocessing.util

    # billiard (Celery's fork of multiprocessing) runs this same registry at a Process's end.
    multiprocessing.util.Finalize(None, _at_exit, exitpriority=100)
    # A Celery prefork pool child ends inside billiard's worker loop (os._exit, no Finalize):
    # Celery's own hook there is the worker_process_shutdown signal.
    if "celery" in sys.modules:
        try:
            from celery.signals import worker_process_shutdown  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError:
            return
        worker_process_shutdown.connect(_on_worker_process_shutdown, weak=False)


def _on_worker_process_shutdown(**_: object) -> None:
    _at_exit()


def _after_fork_in_child() -> None:
    for sender in list(_live):
        try:  # one sender's trouble (its spool's folder is gone) must not leave the others shared
            sender._after_fork_in_child()
        except Exception:
            logger.exception("resetting a sender after fork failed")


def _at_exit() -> None:
    senders = [s for s in list(_live) if not s._closed]
    if not senders:
        return
    deadline = time.monotonic() + max(s.exit_timeout for s in senders)
    for sender in senders:
        try:
            sender._close_at_exit(deadline)
        except Exception:
            logger.exception("flushing at exit failed")


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
