"""Mappings from the parsed model to Exponea track events, and :func:`to_exponea_events`."""

from __future__ import annotations

from typing import Any

from ga_ee_bridge.core.events import EventList
from ga_ee_bridge.core.model import KINDS
from ga_ee_bridge.mappings._protocol import Mapping
from ga_ee_bridge.mappings.bloomreach import BLOOMREACH
from ga_ee_bridge.mappings.sdk import SDK
from ga_ee_bridge.mappings.sdk_exact import SDK_EXACT
from ga_ee_bridge.readers import parse_ecommerce

__all__ = ["MAPPINGS", "Mapping", "get_mapping", "resolve_kinds", "to_exponea_events"]

#: Mappings by name; the first is the default.
MAPPINGS: dict[str, Mapping] = {
    SDK.name: SDK, SDK_EXACT.name: SDK_EXACT, BLOOMREACH.name: BLOOMREACH,
}


def resolve_kinds(kind: str) -> tuple[str, ...]:
    """``"all"`` -> every kind in :data:`KINDS` order; a known kind -> itself; else ValueError."""
    if kind == "all":
        return KINDS
    if kind in KINDS:
        return (kind,)
    raise ValueError(f"unknown kind {kind!r}: expected 'all' or one of {', '.join(KINDS)}")


def get_mapping(mapping: str | Mapping) -> Mapping:
    """The mapping named ``mapping`` (or ``mapping`` itself); ValueError lists the known names."""
    if not isinstance(mapping, str):
        return mapping
    try:
        return MAPPINGS[mapping]
    except KeyError:
        raise ValueError(
            f"unknown mapping {mapping!r}: expected one of {', '.join(MAPPINGS)}"
        ) from None


def to_exponea_events(
    ecommerce: Any,
    kind: str = "all",
    *,
    mapping: str | Mapping = "sdk",
    tracked_via: str | None = None,
    strict: bool = False,
) -> EventList:
    """Turn GA Enhanced Ecommerce data into Exponea track events, in the web SDK's order.

    ``ecommerce`` is the GA ``ecommerce`` object, a whole dataLayer push, or a parsed
    :class:`~ga_ee_bridge.core.model.Ecommerce`. ``kind`` picks one section (``"all"``: every
    section present). Returns a list of :class:`~ga_ee_bridge.core.events.TrackEvent` whose
    ``dropped`` attribute names the input keys that were left out. Raises ``EcommerceError`` for bad
    input and ``ValueError`` for an unknown kind or mapping.
    """
    kinds = resolve_kinds(kind)
    chosen = get_mapping(mapping)
    if tracked_via is not None and (not isinstance(tracked_via, str) or not tracked_via):
        raise ValueError(f"tracked_via must be a non-empty string, got {tracked_via!r}")
    parsed = parse_ecommerce(ecommerce, strict=strict)
    events = chosen.events(parsed, kinds, tracked_via=tracked_via or chosen.tracked_via)
    return EventList(events, dropped=parsed.dropped, warnings=parsed.warnings)
