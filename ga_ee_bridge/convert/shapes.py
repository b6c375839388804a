"""Push shapes handled before a push is read: gtag.js ``set``, ``send_to``, renamed events.

gtag.js ``set`` parameters, events ``send_to`` other Google products, and renamed events
(``--event-alias``):

- ``gtag('set', {currency: 'EUR'})`` (or ``gtag('set', 'currency', 'EUR')``) sets parameters for
  every later event of the page, as gtag.js does: an event's own parameters win. Only the
  parameters a gtag.js event reads (``currency``, ``affiliation``...) are carried over.
- ``gtag('event', 'purchase', {send_to: 'AW-123/abc', ...})`` goes to Google Ads only: it is
  skipped and counted as *not for Analytics* (see :func:`ga_ee_bridge.readers.gtag.for_analytics`).
  An event for Analytics loses its ``send_to`` (routing, not data: never a key left out).
- ``event_aliases`` renames a push's ``event`` (or a gtag.js event's name) before it is read:
  ``{"dl_purchase": "purchase"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ga_ee_bridge.convert.page import PageState
from ga_ee_bridge.readers.ga4 import PARAM_KEYS as GA4_PARAM_KEYS
from ga_ee_bridge.readers.gtag import UA_PARAM_KEYS, arguments_of, for_analytics

__all__ = ["NOT_FOR_ANALYTICS", "SET_PARAMETERS", "Shapes"]

class _NotForAnalytics:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_FOR_ANALYTICS"


#: What :meth:`Shapes.shape` returns for a gtag.js event sent to other products only.
NOT_FOR_ANALYTICS: Any = _NotForAnalytics()
#: The parameters ``gtag('set', ...)`` carries over to later events.
SET_PARAMETERS = frozenset(UA_PARAM_KEYS) | frozenset(GA4_PARAM_KEYS)


class Shapes:
    """Prepares each push of a page for reading (see the module docstring)."""

    __slots__ = ("aliases",)

    def __init__(self, aliases: Mapping[str, str]):
        self.aliases = dict(aliases)

    def shape(self, page: PageState, push: Any) -> Any:
        """The push as it is to be read (the same object when nothing applies), or
        :data:`NOT_FOR_ANALYTICS`. A gtag.js ``set`` command is remembered on ``page``."""
        kind = type(push)
        if kind is dict:
            if "0" not in push:
                if self.aliases:
                    event = push.get("event")
                    if type(event) is str and event in self.aliases:
                        return {**push, "event": self.aliases[event]}
                return push
        elif kind is not list:
            return push
        parsed = arguments_of(push)
        if parsed is None:
            return push
        command, name, params = parsed
        if command == "set":
            _remember(page, name, params)
            return push
        if command != "event":
            return push
        if not for_analytics(params):
            return NOT_FOR_ANALYTICS
        renamed = self.aliases.get(name) if type(name) is str else None
        defaults = page.gtag_set
        routed = type(params) is dict and "send_to" in params
        if renamed is None and not routed and not (defaults and (
            params is None or type(params) is dict
        )):
            return push
        if routed:  # where the event goes, not what it says: never "left out"
            params = {key: value for key, value in params.items() if key != "send_to"}
        if defaults and (params is None or type(params) is dict):
            params = {**defaults, **(params or {})}
        name = name if renamed is None else renamed
        if kind is dict:
            return {**push, "1": name, "2": params}
        return [command, name, params, *push[3:]]


def _remember(page: PageState, name: Any, params: Any) -> None:
    """``gtag('set', {...})`` / ``gtag('set', key, value)``: parameters for later events."""
    if type(name) is dict:
        values = name
    elif type(name) is str:
        values = {name: params}
    else:
        return
    kept = {key: value for key, value in values.items() if key in SET_PARAMETERS}
    if kept:
        page.gtag_set = {**page.gtag_set, **kept}
