"""What a mapping is: a named way to turn a parsed :class:`Ecommerce` into track events."""

from __future__ import annotations

from typing import Any, Protocol

from ga_ee_bridge.core.events import TrackEvent
from ga_ee_bridge.core.model import Ecommerce

__all__ = ["EventMapping", "RawMapping"]


class EventMapping(Protocol):
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


class RawMapping(EventMapping, Protocol):
    """A mapping that reads the raw UA ``ecommerce`` object itself (``reads_raw`` is true).

    ``events_raw`` takes the object as pushed (JSON values), not a parsed model; ``events`` still
    serves the forms that are read into the model first (GA4, gtag.js, MP, BigQuery).
    """

    @property
    def reads_raw(self) -> bool: ...

    def events_raw(
        self, ecommerce: Any, kinds: tuple[str, ...], *, tracked_via: str
    ) -> list[TrackEvent]: ...
