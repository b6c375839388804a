"""Errors for bad input: marshmallow-style nested messages plus a readable one-line summary."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["EcommerceError", "flatten_messages", "format_path", "show"]

_SHOW_LIMIT = 80


def show(value: Any) -> str:
    """``repr`` of a bad value for an error message, shortened when long."""
    text = repr(value)
    return text if len(text) <= _SHOW_LIMIT else text[: _SHOW_LIMIT - 3] + "..."


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


class EcommerceError(ValueError):
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
