"""Readers: each GA form of ecommerce data, read by marshmallow schemas into the model.

:func:`read_push` is the one entry point per dataLayer push (what a dump converter calls);
:func:`detect_source` says which form a push is in; :func:`parse_ecommerce` reads a UA
``ecommerce`` object, or any whole push.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ga_ee_bridge.core.model import KINDS, Ecommerce
from ga_ee_bridge.errors import EcommerceError, show
from ga_ee_bridge.readers import ga4, gtag, gtm_classic, ua

__all__ = ["READ_SOURCES", "detect_source", "ga4_params", "parse_ecommerce", "read_push",
           "ua_object"]

#: The values of ``source`` :func:`read_push` takes besides ``"auto"``.
READ_SOURCES: tuple[str, ...] = ("ua", "ga4", "gtag", gtm_classic.SOURCE)

_EMPTY = Ecommerce()
_UA_KEYS = frozenset(KINDS)
_GA4_EVENTS = frozenset(ga4.EVENTS) | frozenset(ga4.UNSUPPORTED_EVENTS)


def detect_source(push: Any) -> str | None:
    """The form of one dataLayer push: ``"ua"``, ``"ga4"``, ``"gtag"``, or None for no ecommerce.

    - ``"gtag"``: a gtag.js ``arguments`` object (``{"0": "event", "1": name, "2": params}``)
      of the ``event`` command; other commands (``config``, ``set``...) are None.
    - ``"ua"``: ``ecommerce`` holds a UA section key (``impressions``, ``purchase``...). UA comes
      first, as in Google's tags: a push holding both UA sections and GA4 ``items`` reads once, as
      UA, and the GA4 keys are listed in ``dropped``.
    - ``"ga4"``: otherwise, when ``event`` is a GA4 ecommerce event or ``ecommerce`` has ``items``.
    - ``"ua"`` for any other ``ecommerce`` object (the UA reader lists what it drops), None for
      ``{"ecommerce": null}`` (a clear) and for pushes without ``ecommerce``.
    """
    parsed = gtag.arguments_of(push)
    if parsed is not None:
        return "gtag" if parsed[0] == "event" else None
    if gtm_classic.is_classic(push):
        return gtm_classic.SOURCE
    if not isinstance(push, Mapping) or "ecommerce" not in push:
        return None
    ecommerce = push["ecommerce"]
    if ecommerce is None:
        return None
    if not isinstance(ecommerce, Mapping) or not _UA_KEYS.isdisjoint(ecommerce):
        return "ua"
    if push.get("event") in _GA4_EVENTS or "items" in ecommerce:
        return "ga4"
    return "ua"


def ga4_params(push: Any, *, forced: bool = False) -> tuple[str, dict[str, Any]] | None:
    """``(event name, params)`` of a plain GA4 ecommerce push, for the converter's hot path: a
    ``dict`` with a text event name and a non-empty ``ecommerce`` dict that :func:`detect_source`
    reads as GA4 (any such push when ``forced``: ``--source ga4``); None for anything else, which
    :func:`read_push` reads the long way."""
    if type(push) is not dict or "0" in push:
        return None
    ecommerce = push.get("ecommerce")
    event = push.get("event")
    if type(ecommerce) is not dict or not ecommerce or type(event) is not str:
        return None
    if not forced and (not _UA_KEYS.isdisjoint(ecommerce)
                       or (event not in _GA4_EVENTS and "items" not in ecommerce)):
        return None
    name = event.strip()
    return (name, ecommerce) if name else None


def ua_object(data: Any) -> dict[str, Any] | None:
    """The UA ``ecommerce`` dict :func:`parse_ecommerce` reads ``data`` as at once, else None.

    ``data`` is a bare ``ecommerce`` object with a UA section key, or a push whose
    ``ecommerce`` has one (:func:`detect_source` says ``"ua"``); a gtag.js ``arguments`` object
    (a ``"0"`` key) and anything else give None (read it the long way).
    """
    if type(data) is not dict or "0" in data:
        return None
    inner = data.get("ecommerce", _MISSING)
    if inner is _MISSING:
        if gtm_classic.is_classic(data):  # a classic GTM transaction: detect_source says so
            return None
        found = data
    elif type(inner) is dict:
        found = inner
    else:
        return None
    return None if _UA_KEYS.isdisjoint(found) else found


_MISSING: Any = object()


def read_push(
    push: Any,
    *,
    source: str = "auto",
    strict: bool = False,
    kinds: tuple[str, ...] | None = None,
) -> Ecommerce:
    """Read one dataLayer push, in any form, into the model (the converter's call per push).

    ``source`` forces a form (one of :data:`READ_SOURCES`); ``"auto"`` detects it with
    :func:`detect_source`, and a push with no ecommerce reads as an empty model. The result says
    its form (``source``), what was left out (``dropped``, paths as pushed), the values dropped
    as unreadable (``warnings``), the sections that failed while others were kept
    (``section_errors``, UA pushes) and whether it was an ecommerce event with no UA counterpart
    (``unsupported_event``). ``kinds`` reads only those sections (the others are neither read
    nor checked). Raises :class:`EcommerceError` for bad input (see :func:`parse_ecommerce`) and
    ``ValueError`` for an unknown ``source``.
    """
    if source == "auto":
        found = detect_source(push)
        if found is None:
            return _EMPTY
        source = found
    if source == "ua":
        return _read_ua(push, strict=strict, kinds=kinds)
    if source == "ga4":
        return _read_ga4(push, strict=strict, kinds=kinds)
    if source == "gtag":
        return gtag.read_arguments(push, strict=strict, kinds=kinds)
    if source == gtm_classic.SOURCE:
        return gtm_classic.read_classic(push, strict=strict)
    raise ValueError(
        f"unknown source {source!r}: expected 'auto' or one of {', '.join(READ_SOURCES)}"
    )


def parse_ecommerce(
    ecommerce: Any, *, strict: bool = False, kinds: tuple[str, ...] | None = None
) -> Ecommerce:
    """Read a GA ``ecommerce`` object, or a whole dataLayer push holding one, into the model.

    A whole push may be in any form :func:`detect_source` knows (GA4, gtag.js); a bare
    ``ecommerce`` object is read as UA. ``{"ecommerce": null}`` and ``None`` read as an empty
    object. ``kinds`` (default: every kind) names the sections to read: the others are not
    looked at, so they can neither fail nor warn.

    Lenient reading (the default) drops a value it cannot read, with a
    :class:`~ga_ee_bridge.core.model.ReadWarning` in ``warnings``, and keeps the event; a section
    that cannot be read at all (not an object, a product with neither id nor name, a purchase
    without its id...) goes to ``section_errors`` while the other sections are kept. Raises
    :class:`EcommerceError`, naming every bad path and value at once, when the object itself is
    unreadable or when every section read failed. ``strict=True`` raises for any bad section or
    value, and also rejects what lenient reading would repair (numeric ids, ``"$275.00"``, a flat
    product where a list belongs...).
    """
    if isinstance(ecommerce, Ecommerce):
        return ecommerce
    source = detect_source(ecommerce)
    if source is not None and source != "ua":
        return read_push(ecommerce, source=source, strict=strict, kinds=kinds)
    return _read_ua(ecommerce, strict=strict, kinds=kinds)


def _read_ua(ecommerce: Any, *, strict: bool, kinds: tuple[str, ...] | None) -> Ecommerce:
    if isinstance(ecommerce, Mapping) and "ecommerce" in ecommerce:
        ecommerce = ecommerce["ecommerce"]
    if ecommerce is None:
        return _EMPTY
    if not isinstance(ecommerce, Mapping):
        raise EcommerceError([f"not an object: {show(ecommerce)}"])
    return ua.read_ecommerce(ecommerce, strict=strict, kinds=kinds)


def _read_ga4(push: Any, *, strict: bool, kinds: tuple[str, ...] | None) -> Ecommerce:
    """``{"event": name, "ecommerce": params}``; error paths are relative to ``ecommerce``."""
    if not isinstance(push, Mapping):
        raise EcommerceError([f"not a dataLayer push (an object): {show(push)}"])
    params = push.get("ecommerce")
    if params is None:
        return Ecommerce(source="ga4")
    if not isinstance(params, Mapping):
        raise EcommerceError({"ecommerce": [f"not an object: {show(params)}"]})
    event = push.get("event")
    if not isinstance(event, str) or not event.strip():
        raise EcommerceError(
            {"event": [f"missing: a GA4 ecommerce push needs its event name, found {show(event)}"]}
        )
    return ga4.read_event(event.strip(), params, strict=strict, kinds=kinds)
