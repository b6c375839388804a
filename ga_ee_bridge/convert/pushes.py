"""One dataLayer push to the model: UA, GA4 or gtag.js, detected per push (the converter's fast
path).
"""

from __future__ import annotations

from typing import Any

from ga_ee_bridge.core.model import KINDS, Ecommerce
from ga_ee_bridge.errors import EcommerceError, show
from ga_ee_bridge.readers import READ_SOURCES, detect_source, read_push
from ga_ee_bridge.readers.gtag import arguments_of
from ga_ee_bridge.readers.gtm_classic import SOURCE as GTM_CLASSIC
from ga_ee_bridge.readers.ua import read_ecommerce

__all__ = ["FILE_SOURCES", "PUSH_SOURCES", "SOURCES", "push_to_ecommerce", "raw_ua_ecommerce",
           "rooted_messages", "ua_ecommerce"]

#: Forms read push by push (in any dataLayer dump), detected per push unless forced.
PUSH_SOURCES: tuple[str, ...] = READ_SOURCES
#: Forms read file by file (their own input forms in :data:`ga_ee_bridge.convert.input.FORMS`).
FILE_SOURCES: tuple[str, ...] = ("analyticsjs", "mp", "bq")
#: Every value of ``--source`` besides ``auto``.
SOURCES: tuple[str, ...] = (*PUSH_SOURCES, *FILE_SOURCES)
_UA_KEYS = frozenset(KINDS)


def push_to_ecommerce(push: Any, *, strict: bool = False, source: str = "auto",
                      kinds: tuple[str, ...] | None = None) -> Ecommerce | None:
    """The one place a dataLayer push becomes the model: UA, GA4 or gtag.js, detected per push.

    ``source`` forces the form (``"ua"``, ``"ga4"``, ``"gtag"``); ``"auto"`` detects it with
    :func:`~ga_ee_bridge.readers.detect_source` (UA first: a push with both UA sections and GA4
    ``items`` reads once, as UA). None when the push carries no ecommerce data (no
    ``ecommerce``, ``null`` or ``{}``; a gtag.js command or event without ecommerce; a push not
    in the forced form). A GA4/gtag event with no UA counterpart comes back with
    ``unsupported_event`` set. ``kinds`` reads only those sections (see
    :func:`~ga_ee_bridge.readers.read_push`; the result's ``warnings`` and ``section_errors`` keep
    the reader's paths, relative to the data read). Raises :class:`EcommerceError` with paths from
    the push's root (``ecommerce.items[1].price``, ``2.items[0].price`` for gtag's params).
    """
    if type(push) is dict:
        ecommerce = push.get("ecommerce")
        if type(ecommerce) is dict:
            if not ecommerce:
                return None
            if ua_ecommerce(push, source) is not None:
                try:  # read_push(push, source="ua"), without the checks already made here
                    return read_ecommerce(ecommerce, strict=strict, kinds=kinds)
                except EcommerceError as err:
                    raise EcommerceError(rooted_messages(push, "ua", err.messages)) from None
        elif ecommerce is None and "0" not in push:
            if source in ("auto", GTM_CLASSIC) and (
                "transactionId" in push or "transactionProducts" in push
            ):
                return _read(push, GTM_CLASSIC, strict, kinds)
            return None
        event = push.get("event")
        if event is not None and type(event) is not str and source in ("auto", "ga4"):
            # Which form the push is in cannot be told without its event name.
            raise EcommerceError({"event": [
                f"not an event name: {show(event)} (an ecommerce push's event must be text)"
            ]})
    if source == "auto":
        found = detect_source(push)
        if found is None:
            return None
        source = found
    elif source == "gtag":
        parsed = arguments_of(push)
        if parsed is None or parsed[0] != "event":
            return None
    elif source in ("ua", "ga4"):
        if type(push) is not dict or push.get("ecommerce") is None:
            return None
    elif source == GTM_CLASSIC:
        if type(push) is not dict or push.get("ecommerce") is not None:
            return None
    else:
        raise ValueError(
            f"unknown source {source!r}: expected 'auto' or one of {', '.join(PUSH_SOURCES)}"
        )
    result = _read(push, source, strict, kinds)
    if source != "ua" and not result.sections and result.unsupported_event is None and (
        not result.dropped_keys
    ):
        return None  # a gtag.js page_view, a GA4 push with nothing to read
    return result


def ua_ecommerce(push: Any, source: str = "auto") -> dict[str, Any] | None:
    """The ``ecommerce`` dict of a push that is UA at once (the cheap path of UA dumps): a
    ``dict`` with a UA section key (UA first), or any non-empty one when ``source`` is ``"ua"``;
    else None (:func:`push_to_ecommerce` then looks further)."""
    if type(push) is not dict:
        return None
    ecommerce = push.get("ecommerce")
    if type(ecommerce) is not dict or not ecommerce:
        return None
    if source == "ua" or (source == "auto" and not _UA_KEYS.isdisjoint(ecommerce)):
        return ecommerce
    return None


def raw_ua_ecommerce(push: Any, source: str = "auto") -> Any:
    """The ``ecommerce`` object of a push in UA form, as pushed (for a mapping that reads it
    raw); None when the push is in another form or carries none."""
    if type(push) is not dict:
        return None
    ecommerce = push.get("ecommerce")
    if ecommerce is None or ecommerce == {}:
        return None
    if source == "ua":
        return ecommerce
    if source != "auto":
        return None
    if type(ecommerce) is dict and not _UA_KEYS.isdisjoint(ecommerce):
        return ecommerce
    event = push.get("event")
    if event is not None and type(event) is not str:
        return None  # the reader says why
    return ecommerce if detect_source(push) == "ua" else None


def _read(push: Any, source: str, strict: bool, kinds: tuple[str, ...] | None) -> Ecommerce:
    try:
        return read_push(push, source=source, strict=strict, kinds=kinds)
    except EcommerceError as err:
        raise EcommerceError(rooted_messages(push, source, err.messages)) from None


def rooted_messages(push: Any, source: str, messages: Any) -> Any:
    """A reader's error messages (paths from the data read) with paths from the push's root."""
    return _rooted(push, source, messages)


def _rooted(push: Any, source: str, messages: Any) -> Any:
    """Error messages with paths from the push's root (readers give them from the data)."""
    if source == "gtag":
        params: str | int = 2 if isinstance(push, list | tuple) else "2"
        rooted: dict[Any, Any] = {}
        inner = {}
        for key, value in messages.items():
            if key == "_schema":
                rooted[key] = value  # about the arguments object itself
            elif key in ("1", "2"):
                rooted[int(key) if params == 2 else key] = value
            else:
                inner[key] = value
        if inner:
            rooted.setdefault(params, {})
            if isinstance(rooted[params], dict):
                rooted[params].update(inner)
            else:
                rooted[params] = [rooted[params], inner]
        return rooted
    if source == "ga4":
        rooted = {key: value for key, value in messages.items()
                  if key in ("event", "ecommerce")}
        inner = {key: value for key, value in messages.items()
                 if key not in ("event", "ecommerce")}
        if inner:
            rooted["ecommerce"] = inner
        return rooted
    if source == GTM_CLASSIC or (
        source == "ua" and isinstance(push, dict) and "ecommerce" not in push
    ):
        return messages
    return {"ecommerce": messages}


