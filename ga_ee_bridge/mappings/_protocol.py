"""What a mapping is: a named way to turn a parsed :class:`Ecommerce` into track events."""

from __future__ import annotations

from typing import Protocol

from ga_ee_bridge.core.events import TrackEvent
from ga_ee_bridge.core.model import Ecommerce

__all__ = ["Mapping"]


class Mapping(Protocol):
    """A mapping: ``events`` turns the sections of ``kinds`` (in that order) into events.

    ``tracked_via`` is the tag every event carries; the caller may override it.
    """

    @property
    def name(self) -> str: ...

    @property
    def tracked_via(self) -> str: ...

    def events(
        self, ecommerce: Ecommerce, kinds: tuple[str, ...], *, tracked_via: str
    ) -> list[TrackEvent]: ...
