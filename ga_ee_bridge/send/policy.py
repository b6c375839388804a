"""The sender's decisions, without any I/O: retries, the rate limit, batches, command ids, results.

Shared by the threaded :class:`~ga_ee_bridge.send.sender.Sender` and the asyncio
:class:`~ga_ee_bridge.send.async_sender.AsyncSender`, so both keep the same rules:
:func:`check_options` (which options can work), :func:`wakes_consumer` and :func:`batch_wait`
(when a batch is due), :class:`RetryPolicy` (which failures are retried, and after how long),
:class:`RateLimiter` (requests a second), :func:`take_batch` (how many queued commands go in one
request, bounded in commands and in bytes), :class:`CommandIds` and :func:`encode_command` (every
command carries a ``command_id`` and is serialised once, so a resend is byte-identical),
:func:`batch_body` and :func:`parse_batch_answer` (the request and the per-command verdicts,
matched by ``command_id``).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ga_ee_bridge.core.fastjson import fast_json, maybe_not_json, passthrough_options
from ga_ee_bridge.core.limits import MAX_BATCH_BYTES, MAX_BATCH_COMMANDS
from ga_ee_bridge.errors import APIError

__all__ = [
    "BATCH_OVERHEAD",
    "NOT_DELIVERED",
    "CommandIds",
    "CommandResult",
    "RateLimiter",
    "RetryPolicy",
    "batch_body",
    "batch_wait",
    "check_options",
    "encode_command",
    "parse_batch_answer",
    "take_batch",
    "wakes_consumer",
]

#: The reason given to ``on_error`` for a command still unconfirmed when the client closes.
NOT_DELIVERED = "not delivered before exit (the client closed before the server confirmed it)"
#: Bytes a batch request adds around its commands: ``{"commands":[`` ``]}`` and the commas.
BATCH_OVERHEAD = len('{"commands":[]}')
_MAX_MESSAGE = 300


def shorten(value: Any) -> str:
    """A value as text of at most 300 characters, for error messages and logs."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def check_options(*, batch_size: int, max_queue_size: int, max_batch_bytes: int,
                  max_rps: float | None) -> None:
    """Refuse sender options that cannot work, naming the option and the value."""
    if not 1 <= batch_size <= MAX_BATCH_COMMANDS:
        raise ValueError(f"batch_size must be 1 to {MAX_BATCH_COMMANDS}, got {batch_size!r}")
    if max_queue_size < 1:
        raise ValueError(f"max_queue_size must be positive, got {max_queue_size!r}")
    if max_batch_bytes < 1024:
        raise ValueError(f"max_batch_bytes must be at least 1024, got {max_batch_bytes!r}")
    RateLimiter(max_rps)  # checks it


def wakes_consumer(was_ready: int, ready: int, immediate: bool, batch_size: int) -> bool:
    """Whether newly queued commands may have made a batch due, so the consumer must wake.

    Only when a full batch is newly there: with one waiting already, the consumer was woken for
    it and does not wait while it is there (waking it on every call would cost each call).
    """
    return was_ready == 0 or immediate or was_ready < batch_size <= ready


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


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The server's verdict on one batch command: ``success`` and its ``errors`` (as sent)."""

    success: bool
    errors: Any = None

    @property
    def reason(self) -> str:
        """The errors as one short line."""
        return shorten(self.errors) if self.errors else "rejected by the server"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Which failures are retried and when: exponential backoff with jitter, bounded in time.

    Network errors, 408, 429 and 5xx are retried (a 429's ``Retry-After`` is honoured); anything
    else is final. ``max_retry_time`` bounds the time from the first try to the last.
    """

    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_time: float = 300.0

    def delay(self, error: APIError, attempt: int, elapsed: float,
              rng: random.Random) -> float | None:
        """Seconds before try ``attempt + 1``, or None when the error is final or time ran out."""
        if not error.retryable:
            return None
        if error.retry_after is not None:
            delay = error.retry_after
        else:
            ceiling = min(self.max_backoff, self.backoff * 2 ** attempt)
            delay = rng.uniform(ceiling / 2, ceiling)
        if elapsed + delay > self.max_retry_time:
            return None
        return delay


class RateLimiter:
    """At most ``max_rps`` requests a second, evenly spaced; None means no limit."""

    __slots__ = ("_next", "max_rps")

    def __init__(self, max_rps: float | None) -> None:
        if max_rps is not None and max_rps <= 0:
            raise ValueError(f"max_rps must be positive, got {max_rps!r}")
        self.max_rps = max_rps
        self._next = 0.0

    def reserve(self, now: float) -> float:
        """Book the next request slot at or after ``now``; returns the seconds to wait for it."""
        if self.max_rps is None:
            return 0.0
        slot = max(now, self._next)
        self._next = slot + 1.0 / self.max_rps
        return slot - now


def take_batch(sizes: Sequence[int], *, max_commands: int = MAX_BATCH_COMMANDS,
               max_bytes: int = MAX_BATCH_BYTES) -> int:
    """How many of the queued commands (their JSON sizes, oldest first) go in the next request.

    At most ``max_commands``, and no more than ``max_bytes`` in all, but always at least one
    (a single command is below the message limit, which is far below any batch bound).
    """
    total = BATCH_OVERHEAD
    count = 0
    for size in sizes[:max_commands]:
        total += size + (1 if count else 0)
        if count and total > max_bytes:
            break
        count += 1
    return count


class CommandIds:
    """``command_id`` values unique across processes: a random prefix per process and a counter."""

    __slots__ = ("_counter", "_forks", "_prefix")

    def __init__(self) -> None:
        self._forks = -1
        self._prefix = ""
        self._counter = itertools.count(1)

    def next(self) -> str:
        """A new id; a forked child gets a new prefix on its first call."""
        if self._forks != _forks:  # (a counter the fork hook moves: os.getpid() is a system call)
            self._forks, self._prefix = _forks, uuid.uuid4().hex[:12]
            self._counter = itertools.count(1)
        return f"{self._prefix}-{next(self._counter)}"


#: How many times this process's ancestors and it were forked (by ``os.fork``).
_forks = 0


def _count_fork() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_count_fork)

#: ``json.dumps(..., separators=(",", ":"), ensure_ascii=False, allow_nan=False)``.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _make_encode() -> Callable[[Any], str]:
    """:data:`_ENCODER`'s ``encode`` with its C encoder built once (``encode`` builds one each
    call, which is most of a small command's cost). Without the cycle check: a command that
    contains itself recurses until ``RecursionError``, and is then encoded again by
    :data:`_ENCODER`, which says what is wrong as ``json`` does."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    iterencode = make(None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",",
                      False, False, False)
    join = "".join

    def encode(value: Any) -> str:
        try:
            return join(iterencode(value, 0))
        except RecursionError:
            return _ENCODER.encode(value)

    return encode


_encode = _make_encode()

_orjson = fast_json()
_OPTIONS = 0 if _orjson is None else passthrough_options(_orjson)


def encode_command(command: Mapping[str, Any]) -> tuple[str, int]:
    """A command as the JSON text sent (and spooled), and its size in bytes.

    Always ``json.dumps(command, separators=(",", ":"), ensure_ascii=False, allow_nan=False)``;
    orjson (when :func:`~ga_ee_bridge.core.fastjson.fast_json` offers it) writes it, about 2x
    faster a call, where its bytes are certainly the same, and ``json`` writes the rest.
    """
    if _orjson is not None:
        try:
            raw = _orjson.dumps(command, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: a type, key, integer or depth json may take
            pass
        else:
            if not maybe_not_json(raw):
                return raw.decode(), len(raw)
    text = _encode(command)
    return text, len(text) if text.isascii() else len(text.encode())


def batch_body(texts: Sequence[str]) -> bytes:
    """The body of a batch request from commands already encoded by :func:`encode_command`."""
    return ('{"commands":[' + ",".join(texts) + "]}").encode()


def parse_batch_answer(body: Any, command_ids: Sequence[str | None]) -> list[CommandResult]:
    """One :class:`CommandResult` per command sent, matched by ``command_id`` when echoed.

    Results that echo ``command_id`` are matched by it (whatever their order); otherwise by
    position, as documented. An answer that is not one result per command is a retryable
    :class:`APIError` (resending is byte-identical); ``success: false`` for the whole request is
    final.
    """
    if not isinstance(body, dict) or body.get("success") is False:
        raise APIError(f"request refused: {shorten(body)}", status=200)
    results = body.get("results")
    if not isinstance(results, list) or len(results) != len(command_ids):
        raise APIError(f"HTTP 200 without one result per command: {shorten(body)}",
                       status=200, retryable=True)
    echoed = [r.get("command_id") if isinstance(r, dict) else None for r in results]
    if any(echoed) and all(command_ids):
        by_id = {cid: r for cid, r in zip(echoed, results, strict=True) if cid is not None}
        wanted = set(command_ids)
        if len(by_id) != len(results) or set(by_id) != wanted:
            raise APIError(f"HTTP 200 whose command_ids do not match the request: "
                           f"{shorten(body)}", status=200, retryable=True)
        results = [by_id[cid] for cid in command_ids if cid is not None]
    return [_result(r) for r in results]


def _result(raw: Any) -> CommandResult:
    if isinstance(raw, dict):
        if raw.get("success") is True:
            return CommandResult(True)
        return CommandResult(False, raw.get("errors") or raw.get("error") or raw.get("message"))
    return CommandResult(False, raw)
