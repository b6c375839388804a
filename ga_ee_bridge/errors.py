"""Every exception of the package, under one base class :class:`GaEeBridgeError`.

Bad input (:class:`EcommerceError`) carries marshmallow-style nested messages plus a readable
one-line summary; each error also subclasses the built-in it has always been (``ValueError`` ...),
so ``except ValueError`` keeps working. Modules that raise them re-export them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "APIError",
    "ConfigError",
    "DamagedInputError",
    "DeliveryError",
    "DumpError",
    "EcommerceError",
    "GaEeBridgeError",
    "NumberError",
    "QueueFullError",
    "RuleError",
    "SdkThrewError",
    "SpoolError",
    "TimestampError",
    "flatten_messages",
    "format_path",
    "show",
]

_SHOW_LIMIT = 80


def show(value: Any) -> str:
    """``repr`` of a bad value for an error message, shortened when long.

    Bounded whatever the value: only its first ~80 characters are rendered, so a 200 MB push, an
    object nested 1,000 deep or an integer of 5,000 digits shows without cost or error.
    """
    parts: list[str] = []
    with contextlib.suppress(_Full):
        _render(value, parts, _SHOW_LIMIT + 1, 0)
    text = "".join(parts)
    return text if len(text) <= _SHOW_LIMIT else text[: _SHOW_LIMIT - 3] + "..."


class _Full(Exception):
    """Raised by :func:`_render` once enough text is rendered."""


_MAX_DEPTH = 20


def _render(value: Any, out: list[str], budget: int, depth: int) -> None:
    """Append ``repr(value)`` to ``out`` until ``budget`` characters are there (then raise)."""
    if sum(map(len, out)) >= budget:
        raise _Full
    if depth > _MAX_DEPTH:
        out.append("...")
        raise _Full
    kind = type(value)
    if kind is dict or kind is list or kind is tuple:
        brackets = "{}" if kind is dict else "[]" if kind is list else "()"
        opening, closing = brackets[0], brackets[1]
        out.append(opening)
        items = value.items() if kind is dict else value
        for index, item in enumerate(items):
            if index:
                out.append(", ")
            if kind is dict:
                _render(item[0], out, budget, depth + 1)
                out.append(": ")
                _render(item[1], out, budget, depth + 1)
            else:
                _render(item, out, budget, depth + 1)
        if kind is tuple and len(value) == 1:
            out.append(",")
        out.append(closing)
    elif kind is str:
        out.append(repr(value[: budget + 2]) if len(value) > budget + 2 else repr(value))
    elif kind is int and value.bit_length() > 3000:
        out.append(f"<an integer of about {int(value.bit_length() * 0.30103)} digits>")
    else:
        try:
            out.append(repr(value))
        except Exception:  # a repr that fails (too deep, too large): say what it is
            out.append(f"<{kind.__name__}>")
    if sum(map(len, out)) >= budget:
        raise _Full


def format_path(parts: tuple[str | int, ...]) -> str:
    """Render ``("purchase", "products", 1, "price")`` as ``purchase.products[1].price``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def flatten_messages(
    messages: Any, prefix: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Yield ``(path parts, message)`` for every leaf of marshmallow-style nested messages.

    ``_schema`` keys (errors of the object itself) add nothing to the path.
    """
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            part: tuple[str | int, ...] = () if key == "_schema" else (key,)
            yield from flatten_messages(value, prefix + part)
    elif isinstance(messages, list | tuple):
        for value in messages:
            yield from flatten_messages(value, prefix)
    else:
        yield prefix, str(messages)


class GaEeBridgeError(Exception):
    """The base of every exception ga-ee-bridge raises on purpose."""


class EcommerceError(GaEeBridgeError, ValueError):
    """Bad Enhanced Ecommerce input: every bad path at once, with the value found there.

    ``messages`` is nested by key and list index, as marshmallow reports it:
    ``{"purchase": {"products": {1: {"price": ["not a number: 'abc'"]}}}}``; ``str()`` reads
    ``purchase.products[1].price: not a number: 'abc'`` (several errors joined by ``"; "``).
    """

    def __init__(self, messages: Mapping[str | int, Any] | list[str]):
        self.messages: Mapping[str | int, Any] = (
            {"_schema": list(messages)} if isinstance(messages, list) else messages
        )
        super().__init__(str(self))

    @property
    def errors(self) -> list[tuple[str, str]]:
        """``(path, message)`` pairs; the path of an error of the whole object is ``ecommerce``."""
        return [
            (format_path(parts) or "ecommerce", message)
            for parts, message in flatten_messages(self.messages)
        ]

    @property
    def paths(self) -> list[str]:
        """The paths of every error, e.g. ``["purchase.actionField.id"]``."""
        return [path for path, _ in self.errors]

    def __str__(self) -> str:
        return "; ".join(f"{path}: {message}" for path, message in self.errors)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.messages,))


class SdkThrewError(EcommerceError):
    """Input on which the web SDK itself throws (``sdk-exact``): ``events`` are those it sent first.

    The message (one path, as :class:`EcommerceError`) says what the SDK throws and what it does not
    send; ``events`` holds exactly the track events the SDK sent before the throw, in order.
    """

    def __init__(self, messages: Mapping[str | int, Any] | list[str], *,
                 events: tuple[Any, ...] = ()) -> None:
        self.events: tuple[Any, ...] = tuple(events)
        super().__init__(messages)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_sdk_threw, (self.messages, self.events))


def _sdk_threw(messages: Mapping[str | int, Any], events: tuple[Any, ...]) -> SdkThrewError:
    """Rebuild a pickled :class:`SdkThrewError` (worker processes send them back)."""
    return SdkThrewError(messages, events=events)


class NumberError(GaEeBridgeError, ValueError):
    """A value that cannot be read as the number asked for; the message names the value."""


class TimestampError(GaEeBridgeError, ValueError):
    """A value that is not a timestamp; the message names the value and what is accepted."""


class DumpError(GaEeBridgeError):
    """An input that cannot be read at all (missing file, not a dump); the message says why."""


class DamagedInputError(GaEeBridgeError, OSError):
    """An input that cannot be read on (damaged or truncated gzip data); what came before it was
    read. The converter reports it as an ``unreadable input`` reject."""


class APIError(GaEeBridgeError):
    """A failed call: ``status`` (None for a network error), ``retryable``, ``retry_after`` (s)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class QueueFullError(GaEeBridgeError, RuntimeError):
    """The in-memory queue stayed full for ``queue_timeout`` seconds; nothing of the call queued."""


class SpoolError(GaEeBridgeError, OSError):
    """The spool could not store or update commands: ``path`` and ``cause`` (e.g. "disk full").

    Raised to the caller whose commands could not be stored (nothing of that call is queued); the
    sender itself never stops over it and tries again later.
    """

    def __init__(self, path: str, cause: str, *, detail: str = "") -> None:
        self.path = path
        self.cause = cause
        self.detail = detail
        text = f"spool {path}: {cause}"
        super().__init__(f"{text} ({detail})" if detail and detail != cause else text)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        return (_spool_error, (self.path, self.cause, self.detail))


def _spool_error(path: str, cause: str, detail: str) -> SpoolError:
    return SpoolError(path, cause, detail=detail)


class DeliveryError(GaEeBridgeError):
    """One command was not delivered: refused by the server, out of retries, or the client closed.

    ``command`` is the command as sent, ``status`` the HTTP status (None for network errors and
    per-command refusals), ``reason`` the server's message.
    """

    def __init__(self, reason: str, *, command: Mapping[str, Any],
                 status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.command = command
        self.status = status


class ConfigError(GaEeBridgeError, ValueError):
    """The connection settings are missing or contradictory (exit status 2)."""


class RuleError(GaEeBridgeError, ValueError):
    """A conversion rule (``--link``, ``--update``) that cannot be used; the message names it."""
