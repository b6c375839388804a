"""Exponea track events and the Tracking API commands built from them.

A :class:`TrackEvent` is what a mapping produces: an event type and flat properties. It becomes a
Tracking API batch command only once the customer (and, usually, the time) is known.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ga_ee_bridge.core.ids import check_customer_ids
from ga_ee_bridge.core.model import ReadWarning
from ga_ee_bridge.errors import EcommerceError

__all__ = ["CUSTOMER_COMMAND", "EVENT_COMMAND", "EventList", "TrackEvent", "customer_command"]

EVENT_COMMAND = "customers/events"
CUSTOMER_COMMAND = "customers"


def _check_timestamp(timestamp: float | int | None) -> float | None:
    if timestamp is None:
        return None
    if type(timestamp) is float and 0 <= timestamp < math.inf:  # the common case, at once
        return timestamp
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise ValueError(f"timestamp must be Unix seconds as a number, got {timestamp!r}")
    value = float(timestamp)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"timestamp must be finite, non-negative Unix seconds, got {timestamp!r}")
    return value


def customer_command(customer_ids: Mapping[str, Any], properties: Mapping[str, Any], *,
                     timestamp: float | int | None = None) -> dict[str, Any]:
    """The Tracking API batch command (``customers``) that ``identify`` / ``update`` send.

    ``timestamp`` (Unix seconds) becomes ``update_timestamp``; without it the key is left out and
    the server uses its receive time. ``ValueError`` names a bad id or timestamp.
    """
    data: dict[str, Any] = {"customer_ids": check_customer_ids(customer_ids)}
    ts = _check_timestamp(timestamp)
    if ts is not None:
        data["update_timestamp"] = ts
    data["properties"] = dict(properties)
    return {"name": CUSTOMER_COMMAND, "data": data}


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """One Exponea event: ``event_type`` with flat ``properties`` and an optional ``timestamp``.

    Immutable: ``properties`` is a read-only mapping (:meth:`properties_dict` for a copy).
    """

    event_type: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    timestamp: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.event_type, str) or not self.event_type:
            raise ValueError(f"event_type must be a non-empty string, got {self.event_type!r}")
        if not isinstance(self.properties, MappingProxyType):
            object.__setattr__(self, "properties", MappingProxyType(dict(self.properties)))
        object.__setattr__(self, "timestamp", _check_timestamp(self.timestamp))

    def to_command(
        self, customer_ids: Mapping[str, Any], *, timestamp: float | None = None
    ) -> dict[str, Any]:
        """Return the Tracking API batch command (``customers/events``) for this event.

        ``timestamp`` (Unix seconds) overrides the event's own; with neither, the key is left out
        and the server uses its receive time.
        """
        ts = _check_timestamp(timestamp) if timestamp is not None else self.timestamp
        data: dict[str, Any] = {
            "customer_ids": check_customer_ids(customer_ids),
            "event_type": self.event_type,
        }
        if ts is not None:
            data["timestamp"] = ts
        data["properties"] = self.properties_dict()
        return {"name": EVENT_COMMAND, "data": data}

    def properties_dict(self) -> dict[str, Any]:
        """A new plain ``dict`` of the properties (the read-only mapping's own copy: ``dict()`` of
        a mapping proxy costs ten times as much)."""
        try:
            copied = self.properties.copy()  # type: ignore[attr-defined]
        except AttributeError:  # a proxy of a mapping that has no copy()
            return dict(self.properties)
        return copied if type(copied) is dict else dict(self.properties)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as its parts (a read-only mapping cannot be pickled): for worker processes."""
        return (TrackEvent, (self.event_type, dict(self.properties), self.timestamp))

    def with_timestamp(self, timestamp: float | None) -> TrackEvent:
        """Return a copy of this event at ``timestamp`` (Unix seconds)."""
        return TrackEvent(self.event_type, self.properties, timestamp)


class EventList(list[TrackEvent]):
    """A list of track events that also says what was left out of the input, and why.

    ``dropped``: keys the reader did not understand; ``warnings``: values it could not read (the
    events are kept without them); ``section_errors``: sections that failed while the others
    converted, as ``(kind, EcommerceError)`` pairs whose paths start at the section.
    """

    def __init__(self, events: Iterable[TrackEvent] = (), *, dropped: tuple[str, ...] = (),
                 warnings: tuple[ReadWarning, ...] = (),
                 section_errors: tuple[tuple[str, EcommerceError], ...] = ()):
        super().__init__(events)
        #: Paths of input keys the reader did not understand, e.g. ``purchase.products[0].sku``.
        self.dropped = dropped
        #: Values that could not be read and were left out, each with its path (events kept).
        self.warnings = warnings
        #: Sections left out because they could not be read or converted, each with its error.
        self.section_errors = section_errors
