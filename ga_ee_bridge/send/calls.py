"""What the sender keeps per call and per queued command: callbacks, items, counters.

A public call may make several commands (``track_enhanced_ecommerce``): :class:`Call` runs its
``on_success`` once all of them were accepted and its ``on_error`` once per failed one. An
:class:`Item` is one queued command, serialised once; it is settled (accepted or failed) exactly
once, even when ``close()`` gives up on it while its answer is still on the way.
"""

from __future__ import annotations

import collections
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ga_ee_bridge.errors import DeliveryError

__all__ = ["Call", "Item", "OnError", "OnSuccess", "SenderStats", "safely"]

logger = logging.getLogger("ga_ee_bridge.send.sender")

OnSuccess = Callable[[], object]
OnError = Callable[[DeliveryError], object]


class Call:
    """Callbacks of one public call, which may have made several commands."""

    __slots__ = ("failed", "on_error", "on_success", "remaining")

    def __init__(self, count: int, on_success: OnSuccess | None, on_error: OnError | None) -> None:
        self.remaining = count
        self.failed = False
        self.on_success = on_success
        self.on_error = on_error

    def done(self, error: DeliveryError | None) -> None:
        """One command of the call was settled: accepted (None) or failed (the error)."""
        self.remaining -= 1
        if error is not None:
            self.failed = True
            if self.on_error is not None:
                safely(self.on_error, error)
        elif self.remaining == 0 and not self.failed and self.on_success is not None:
            safely(self.on_success)


def safely(callback: Callable[..., object], *args: Any) -> None:
    """Run a user callback; an exception in it is logged and goes no further."""
    try:
        callback(*args)
    except Exception:
        logger.exception("a delivery callback raised; the sender goes on")


@dataclass(slots=True)
class Item:
    """One queued command: its text as sent (and spooled), size, id, call and spool row."""

    text: str  # the command as sent (and spooled): byte-identical on every try
    size: int
    command_id: str | None
    call: Call | None
    spool_id: int | None = None
    settled: bool = False

    @property
    def command(self) -> dict[str, Any]:
        """The command as a dict (parsed from the text sent)."""
        return dict(json.loads(self.text))


@dataclass
class SenderStats:
    """Counters since start: commands ``accepted`` and ``failed``, ``requests``, ``retries``.

    ``dead_letters_dropped`` counts in-memory dead letters pushed out by ``dead_letter_limit``
    (each was logged and reported to ``on_error``); ``spool_errors`` counts spool faults met by the
    sender thread (it goes on and tries again).
    """

    accepted: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    dead_letters_dropped: int = 0
    spool_errors: int = 0


def command_id_of(text: str) -> str | None:
    """The ``command_id`` of a command's JSON text, if it has one."""
    value = json.loads(text).get("command_id")
    return value if isinstance(value, str) else None
