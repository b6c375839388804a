"""Mappings from the parsed model to Exponea track events, and :func:`to_exponea_events`."""

from __future__ import annotations

import warnings
from collections.abc import Mapping as AnyMapping
from typing import Any, cast

from ga_ee_bridge.core.events import EventList, TrackEvent
from ga_ee_bridge.core.model import KINDS, Ecommerce, merge_section_errors
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.mappings._protocol import EventMapping, RawMapping
from ga_ee_bridge.mappings.bloomreach import BLOOMREACH
from ga_ee_bridge.mappings.compiled import compile_ua
from ga_ee_bridge.mappings.sdk import SDK
from ga_ee_bridge.mappings.sdk_exact import SDK_EXACT
from ga_ee_bridge.readers import detect_source, parse_ecommerce, ua_object

__all__ = [
    "MAPPINGS",
    "EventMapping",
    "RawMapping",
    "get_mapping",
    "resolve_kinds",
    "to_exponea_events",
]

#: Mappings by name; the first is the default.
MAPPINGS: dict[str, EventMapping] = {
    SDK.name: SDK, SDK_EXACT.name: SDK_EXACT, BLOOMREACH.name: BLOOMREACH,
}


def resolve_kinds(kind: str) -> tuple[str, ...]:
    """``"all"`` -> every kind in :data:`KINDS` order; a known kind -> itself; else ValueError."""
    if kind == "all":
        return KINDS
    if kind in KINDS:
        return (kind,)
    raise ValueError(f"unknown kind {kind!r}: expected 'all' or one of {', '.join(KINDS)}")


def get_mapping(mapping: str | EventMapping) -> EventMapping:
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
    mapping: str | EventMapping = "sdk",
    tracked_via: str | None = None,
    strict: bool = False,
) -> EventList:
    """Turn GA Enhanced Ecommerce data into Exponea track events, in the web SDK's order.

    ``ecommerce`` is the GA ``ecommerce`` object, a whole dataLayer push, or a parsed
    :class:`~ga_ee_bridge.core.model.Ecommerce`. ``kind`` picks one section (``"all"``: every
    section present); only the sections converted are read, so no other section can fail the
    call. Returns a list of :class:`~ga_ee_bridge.core.events.TrackEvent` whose ``dropped``,
    ``warnings`` and ``section_errors`` attributes say what was left out: under ``"all"`` a
    section that fails is left out with its error and the others convert. Raises
    ``EcommerceError`` when every section asked for that is present fails (all their errors at
    once; strict mode: when any fails), and ``ValueError`` for an unknown kind or mapping.

    A mapping that reads raw data (``sdk-exact``) gets a UA ``ecommerce`` object (or the one a
    whole push holds) as it is, and raises :class:`~ga_ee_bridge.errors.SdkThrewError` where the
    web SDK throws; an unknown kind then sends nothing, as in the SDK (a warning says so).
    """
    chosen = get_mapping(mapping)
    if getattr(chosen, "reads_raw", False):
        raw = _raw_ua(ecommerce)
        if raw is not _NOT_UA:
            pushed = isinstance(ecommerce, AnyMapping) and "ecommerce" in ecommerce
            return _raw_events(cast(RawMapping, chosen), raw, kind, tracked_via, pushed=pushed)
    kinds = resolve_kinds(kind)
    if tracked_via is not None and (not isinstance(tracked_via, str) or not tracked_via):
        raise ValueError(f"tracked_via must be a non-empty string, got {tracked_via!r}")
    via = tracked_via or chosen.tracked_via
    compiled = compile_ua(chosen, tracked_via=via, strict=strict)
    found = None if compiled is None else ua_object(ecommerce)
    if found is not None:  # the hot path: no model in between (None where it gives up)
        converted = compiled(found, kinds)  # type: ignore[misc]
        if converted is not None:
            by_kind = converted.events
            return EventList([event for k in kinds if k in by_kind for event in by_kind[k]],
                             dropped=converted.dropped)
    parsed = parse_ecommerce(ecommerce, strict=strict, kinds=kinds)
    failed = [(k, error) for k, error in parsed.section_errors if k in kinds]
    events: list[TrackEvent] = []
    converted = False
    for section_kind in kinds:
        if section_kind not in parsed.sections:
            continue
        try:  # one section at a time: a section the mapping refuses costs only itself
            events.extend(chosen.events(parsed, (section_kind,), tracked_via=via))
        except EcommerceError as err:
            failed.append((section_kind, err))
        else:
            converted = True
    if failed and (strict or not converted):
        raise merge_section_errors(failed)
    return EventList(
        events, dropped=parsed.dropped, warnings=parsed.warnings, section_errors=tuple(failed)
    )


_NOT_UA: Any = object()


def _raw_ua(ecommerce: Any) -> Any:
    """The raw UA ``ecommerce`` object given: itself, or a whole push's; else ``_NOT_UA``."""
    if isinstance(ecommerce, Ecommerce) or detect_source(ecommerce) not in (None, "ua"):
        return _NOT_UA
    if isinstance(ecommerce, AnyMapping) and "ecommerce" in ecommerce:
        return ecommerce["ecommerce"]  # a whole push: a convenience, the SDK takes the object
    return ecommerce


def _raw_events(chosen: RawMapping, raw: Any, kind: str, tracked_via: str | None, *,
                pushed: bool) -> EventList:
    """A raw mapping's events: ``kind`` as the SDK takes it (an unknown one sends nothing)."""
    if tracked_via is not None and (not isinstance(tracked_via, str) or not tracked_via):
        raise ValueError(f"tracked_via must be a non-empty string, got {tracked_via!r}")
    if raw is None and pushed:
        return EventList()  # {"ecommerce": null}: GTM's clear, nothing to hand the SDK
    kinds = KINDS if kind == "all" else (kind,)
    events = chosen.events_raw(raw, kinds, tracked_via=tracked_via or chosen.tracked_via)
    return events if isinstance(events, EventList) else EventList(events)


def __getattr__(name: str) -> Any:
    """``Mapping``, the protocol's old name (it shadowed ``collections.abc.Mapping``)."""
    if name == "Mapping":
        warnings.warn("ga_ee_bridge.mappings.Mapping is now EventMapping (goes in 0.3)",
                      DeprecationWarning, stacklevel=2)
        return EventMapping
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
