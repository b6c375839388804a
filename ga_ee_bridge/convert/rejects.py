"""The converter's account of what it could not use: rejects with paths from the record's root,
and the counts of dropped keys and unsupported events, each with where it was first seen.
"""

from __future__ import annotations

import re
from typing import Any

from ga_ee_bridge.convert.forms import Unit
from ga_ee_bridge.convert.input import Broken
from ga_ee_bridge.convert.page import PageState
from ga_ee_bridge.convert.reasons import RejectReason
from ga_ee_bridge.convert.results import (
    ConvertStats,
    Item,
    Reject,
)
from ga_ee_bridge.errors import EcommerceError, flatten_messages, format_path

__all__ = ["Ledger", "value_at"]

_INDEX = re.compile(r"\[\d+\]")


def _joined(prefix: str, path: str) -> str:
    """``prefix`` (``ecommerce.``, ``[3]``) and a path after it (``detail``, ``[0].id``)."""
    if not prefix:
        return path
    if not path:
        return prefix.rstrip(".")
    if prefix.endswith(".") or path.startswith("["):
        return prefix + path
    return f"{prefix}.{path}"


def value_at(root: Any, parts: tuple[str | int, ...]) -> Any:
    """The value at ``parts`` inside ``root`` (None when there is none), for a reject's record."""
    value = root
    for part in parts:
        found = (type(value) is dict and part in value) or (
            type(value) is list and isinstance(part, int) and 0 <= part < len(value)
        )
        if not found:
            return None
        value = value[part]
    return value


class Ledger:
    """Writes rejects to ``out``; counts them, dropped keys and unsupported events in ``stats``."""

    def __init__(self, name: str, stats: ConvertStats, out: list[Item]):
        self.name = name
        self.stats = stats
        self.out = out

    def container(self, page: PageState | None, index: int | None) -> str:
        """The JSON path of a push from its record's root: ``[12]`` or ``dataLayer[3]``."""
        if page is not None and page.in_object:
            return f"{page.prefix}[{index}]"
        return "" if index is None else f"[{index}]"

    def broken(self, line: int, index: int | None, broken: Broken) -> None:
        """A piece of input that is not a record at all."""
        self.stats.rejects[broken.reason] += 1
        self.out.append(
            Reject(self.name, line, index, broken.reason, (("", broken.message, None),),
                   broken.text)
        )

    def reject(self, line: int, index: int | None, page: PageState | None, reason: str,
               errors: list[tuple[str, str, Any]], push: Any, *, state: bool = False) -> None:
        """Record a reject; paths are made to start at the record's root (``[12].ecommerce...``).

        ``state``: the paths are data-model state paths, shown after the push's place
        (``[12] timestamp``).
        """
        if type(push) is Unit:
            container = push.container if state else ""
            push = push.shown
        else:
            container = self.container(page, index)
        join = " " if state else "."
        self.stats.rejects[reason] += 1
        self.out.append(Reject(
            self.name, line, index, reason,
            tuple(
                (f"{container}{join}{path}" if container and path else container or path,
                 message, value)
                for path, message, value in errors
            ),
            push,
        ))

    def invalid(self, page: PageState | None, line: int, index: int | None, push: Any,
                err: EcommerceError, root: Any = None) -> None:
        """An ecommerce push (or unit) the reader refused: every bad path with its value."""
        errors = [(format_path(parts), message, value_at(push if root is None else root, parts))
                  for parts, message in flatten_messages(err.messages)]
        self.reject(line, index, page, RejectReason.INVALID_ECOMMERCE, errors, push)

    def unsupported(self, line: int, container: str, event: Any) -> None:
        """A GA4 / gtag.js ecommerce event with no UA counterpart: skipped, counted by name."""
        stats = self.stats
        stats.unsupported[event] += 1
        if event not in stats.unsupported_first:
            stats.unsupported_first[event] = self._where(line, container)

    def not_for_analytics(self, line: int, container: str, event: Any) -> None:
        """A gtag.js event sent to other products only (``send_to: "AW-..."``): skipped, counted."""
        stats = self.stats
        name = event if type(event) is str else repr(event)
        stats.not_for_analytics[name] += 1
        if name not in stats.not_for_analytics_first:
            stats.not_for_analytics_first[name] = self._where(line, container)

    def warnings(self, line: int, container: str, warnings: tuple[Any, ...], prefix: str
                 ) -> None:
        """Values the lenient reader left out (:class:`~ga_ee_bridge.core.model.ReadWarning`),
        counted by kind (path with indices removed, the message's first part)."""
        stats = self.stats
        for warning in warnings:
            place = _joined(prefix, warning.path)
            message = str(warning.message)
            kind = f"{_INDEX.sub('[]', place)}: {message.partition(':')[0]}"
            stats.warnings[kind] += 1
            if kind not in stats.warnings_first:
                stats.warnings_first[kind] = (
                    f"{self.name}:{line} {_joined(container, place)}: {message}"
                )

    def dropped(self, line: int, container: str, dropped: tuple[str, ...], prefix: str) -> None:
        """Input keys the reader left out, counted by path with indices removed."""
        stats = self.stats
        for path in dropped:
            general = prefix + _INDEX.sub("[]", path)
            stats.dropped[general] += 1
            if general not in stats.dropped_first:
                stats.dropped_first[general] = self._where(line, container)

    def _where(self, line: int, container: str) -> str:
        return f"{self.name}:{line}" + (f" {container}" if container else "")
