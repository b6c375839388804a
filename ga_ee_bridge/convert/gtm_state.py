"""GTM's data model: the running state later dataLayer pushes merge into.

Google Tag Manager keeps one abstract state per page: each push merges into it, objects recursively,
any other value replacing the old one; a dotted key (``"gtm.start"``) stands for a nested path
(``{"gtm": {"start": ...}}``). Customer ids and timestamps of a dump are read from that state with
dotted paths (``user.email``). ``ecommerce`` is not merged: GA's tag reads it per push.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["NOT_MERGED", "DataModel", "split_path"]

#: Keys read per push, never merged into the state.
NOT_MERGED: frozenset[str] = frozenset({"ecommerce"})


def split_path(path: str) -> tuple[str, ...]:
    """``"user.email"`` -> ``("user", "email")``; ValueError for an empty path or segment."""
    parts = tuple(path.split("."))
    if not path or any(not part for part in parts):
        raise ValueError(f"bad path {path!r}: expected dotted names such as 'user.email'")
    return parts


def _merged(old: Any, new: Any) -> Any:
    """``new`` merged into ``old``: objects recursively (a new dict), anything else replaced.

    Never mutates either side, so pushes handed to the caller stay as pushed.
    """
    if type(new) is dict and type(old) is dict:
        result = dict(old)
        for key, value in new.items():
            result[key] = _merged(result.get(key), value)
        return result
    return new


#: Wanted paths -> dotted key -> whether it is wanted (what :meth:`DataModel._wanted` found).
_DOTTED: dict[Any, dict[str, bool]] = {}
#: The most path sets, and keys a path set, remembered.
_DOTTED_LIMIT = 4096


class DataModel:
    """The data-model state of one page.

    ``only`` limits the state to what a caller will read: dotted paths (``"user.email"``,
    ``"gtm.start"``); a pushed key is kept when it lies on or under one of them, so that
    ``{"gtm.uniqueEventId": 7}`` costs nothing when only ``gtm.start`` is read. Every key is
    merged when ``only`` is None.
    """

    __slots__ = ("_dotted", "_heads", "_paths", "state")

    def __init__(self, initial: Mapping[str, Any] | None = None, *,
                 only: Iterable[str] | None = None):
        self._paths = None if only is None else tuple(split_path(path) for path in only)
        self._heads = None if self._paths is None else frozenset(p[0] for p in self._paths)
        # Shared by the pages reading the same paths: the same dotted keys come on every page.
        dotted = _DOTTED.get(self._paths)
        if dotted is None:
            dotted = {}
            if len(_DOTTED) < _DOTTED_LIMIT:
                _DOTTED[self._paths] = dotted
        self._dotted: dict[str, bool] = dotted
        self.state: dict[str, Any] = {}
        if initial:
            self.push(initial)

    def _wanted(self, key: str) -> bool:
        """Whether a dotted key lies on or under a wanted path (cached: keys repeat)."""
        wanted = self._dotted.get(key)
        if wanted is None:
            parts = tuple(key.split("."))
            assert self._paths is not None
            wanted = any(path[: len(parts)] == parts[: len(path)] for path in self._paths)
            if len(self._dotted) < _DOTTED_LIMIT:  # (keys are the pages': bounded)
                self._dotted[key] = wanted
        return wanted

    def push(self, push: Mapping[str, Any]) -> None:
        """Merge one dataLayer push (a JSON object) into the state."""
        heads = self._heads
        state = self.state
        for key, value in push.items():
            if key in NOT_MERGED:
                continue
            if "." in key:
                if heads is not None and not self._wanted(key):
                    continue
                head, _, rest = key.partition(".")
                # GTM expands "a.b.c": v into {"a": {"b": {"c": v}}} before merging.
                for part in reversed(rest.split(".")):
                    value = {part: value}
                key = head
            elif heads is not None and key not in heads:
                continue
            state[key] = _merged(state.get(key), value)

    def get(self, path: tuple[str, ...] | str, default: Any = None) -> Any:
        """The value at a dotted path (``"user.email"`` or its split tuple), or ``default``."""
        parts = split_path(path) if isinstance(path, str) else path
        value: Any = self.state
        for part in parts:
            if type(value) is not dict:
                return default
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return default
        return value


_MISSING = object()
