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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ga_ee_bridge.errors import DeliveryError, SpoolError
from ga_ee_bridge.send.policy import CommandIds, encode_command
from ga_ee_bridge.send.spool import DeadLetter
from ga_ee_bridge.send.validation import check_message_size

__all__ = ["Call", "Item", "OnError", "OnSuccess", "SenderStats", "SpoolFaults",
           "claim", "command_id_of", "encode_items", "record_failure", "safely"]

#: Seconds before a sender tries again after a spool fault (disk full, locked...).
SPOOL_RETRY_INTERVAL = 0.25

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


def claim(items: Sequence[Item]) -> list[Item]:
    """The items not settled yet, now marked settled (so each is settled exactly once)."""
    fresh = [item for item in items if not item.settled]
    for item in fresh:
        item.settled = True
    return fresh


#: How :func:`encode_items` appends a ``command_id``: the last key of the command's text.
_ID_KEY = ',"command_id":"'


def command_id_of(text: str) -> str | None:
    """The ``command_id`` of a command's JSON text, if it has one.

    Text that ends with ``,"command_id":"<id>"}`` (an id without ``"`` or ``\\``: as
    :func:`encode_items` writes it) is the top-level object's last key, so it is read without
    parsing the command; any other text is parsed.
    """
    if text.endswith('"}'):
        start = text.rfind(_ID_KEY)
        if start > 0:
            value = text[start + len(_ID_KEY):-2]
            if '"' not in value and "\\" not in value:
                return value
    value = json.loads(text).get("command_id")
    return value if isinstance(value, str) else None


def encode_items(commands: Sequence[dict[str, Any]], ids: CommandIds) -> list[Item]:
    """Queued items for a call's commands: each gets a ``command_id`` (unless it has one), is
    encoded once, and must be under the message limit (``ValueError``: nothing of the call queued).

    A new id is appended to the encoded text as its last key, byte for byte what encoding a copy
    with the id would give, without the copy.
    """
    items = []
    single = len(commands) == 1
    for index, command in enumerate(commands):
        command_id = command.get("command_id")
        if command_id is None:
            command_id = ids.next()  # hex and digits: nothing to escape
            if command and "command_id" not in command:
                text, size = encode_command(command)
                text = f'{text[:-1]}{_ID_KEY}{command_id}"}}'
                size += len(_ID_KEY) + len(command_id) + 1
            else:  # an explicit None keeps its place among the keys
                text, size = encode_command({**command, "command_id": command_id})
        else:
            text, size = encode_command(command)
        check_message_size(size, "command" if single else f"commands[{index}]")
        items.append(Item(text, size, command_id, None))
    return items


def record_failure(stats: SenderStats, item: Item, reason: str, status: int | None, *,
                   dead: collections.deque[DeadLetter] | None, log: bool = True) -> None:
    """One command failed: count it, log it (ERROR, unless ``log`` is False), keep it in ``dead``
    (in-memory dead letters, bounded: the oldest go, counted; None with a spool, which keeps
    them) and tell its call's ``on_error``.
    """
    stats.failed += 1
    stats.failures[reason] += 1
    command = item.command
    if log:
        data = command.get("data") or {}
        what = data.get("event_type") or command.get("name")
        logger.error("command %s not delivered%s: %s", what,
                     f" (HTTP {status})" if status else "", reason)
    if dead is not None:
        if len(dead) == dead.maxlen:
            if not stats.dead_letters_dropped:
                logger.warning("more than %d dead letters in memory: the oldest are dropped "
                               "from dead_letters() (use a spool to keep them all)", dead.maxlen)
            stats.dead_letters_dropped += 1
        dead.append(DeadLetter(command, reason, status, time.time()))
    if item.call is not None:
        item.call.done(DeliveryError(reason, command=command, status=status))


class SpoolFaults:
    """Spool updates a fault (disk full) kept from being written, and the fault last logged.

    Both senders keep going through spool faults: they count and log each new cause once, keep
    the update, and write it (delivered rows deleted) as soon as the spool can.
    """

    __slots__ = ("accepted", "dead", "fault")

    def __init__(self) -> None:
        self.accepted: list[int] = []  # delivered, not yet deleted: never resent
        self.dead: list[tuple[int, int | None, str]] = []
        self.fault: str | None = None

    @property
    def pending(self) -> bool:
        """Whether updates wait to be written."""
        return bool(self.accepted or self.dead)

    def met(self, error: SpoolError, stats: SenderStats) -> None:
        """Count a spool fault; log it when its cause is new."""
        stats.spool_errors += 1
        if error.cause != self.fault:
            self.fault = error.cause
            logger.warning("%s; the sender keeps going and tries again every %.2f s", error,
                           SPOOL_RETRY_INTERVAL)

    def keep(self, accepted: list[int], dead: list[tuple[int, int | None, str]]) -> None:
        """Keep an update the spool refused, for :meth:`take`."""
        self.accepted.extend(accepted)
        self.dead.extend(dead)

    def take(self) -> tuple[list[int], list[tuple[int, int | None, str]]]:
        """The kept updates, now forgotten (kept again if writing them fails)."""
        accepted, dead = self.accepted, self.dead
        self.accepted, self.dead = [], []
        return accepted, dead

    def saved(self, path: object, deleted: int) -> None:
        """The kept updates were written: say so once the fault is over."""
        if self.fault is not None:
            logger.info("spool %s writable again: %d delivered row(s) deleted", path, deleted)
            self.fault = None
