"""One page's state while it converts: GTM's data model, cookie, times and the pushes held.

A **page** is the unit of state: one page object (``{"dataLayer": [...], ...}``), or in a list or
JSONL of pushes a run from the start of the input or from a ``gtm.js`` push when the page already
had one (GTM loading again means a new page view).
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

from ga_ee_bridge.convert.gtm_state import DataModel
from ga_ee_bridge.mappings.page_defaults import page_properties

__all__ = ["MISSING", "Held", "PageState"]

#: "No value yet" (``None`` is a value a push can carry).
MISSING: Any = object()


class Held(NamedTuple):
    """An ecommerce push converted but not yet emitted: its events wait for the page's time."""

    line: int
    #: The push's index in its list (None for a JSONL line).
    position: int | None
    push: Any
    ids: dict[str, Any]
    ids_json: str
    groups: list[tuple[str | None, list[Any]]]
    #: The ``--update`` customer properties known at the push (None: none asked or known).
    update: dict[str, Any] | None = None


class PageState:
    """The state of one page (see the module docstring); plain data, changed by the converter."""

    __slots__ = (
        "cookie", "cookie_used", "defaults", "first_push", "first_us", "gtag_set", "has_gtm",
        "held",
        "ids_cache", "in_object", "last_us", "line", "meta", "model", "position", "prefix",
        "ts_us", "ts_value",
    )

    def __init__(self, line: int, position: int | None, meta: dict[str, Any], prefix: str,
                 in_object: bool, only: frozenset[str]):
        #: Where the page starts in its input (line, position in its list) and its metadata.
        self.line = line
        self.position = position
        self.meta = meta
        #: The JSON path of the page's pushes (``dataLayer``), for reject paths.
        self.prefix = prefix
        self.in_object = in_object
        self.model = DataModel(meta, only=only)
        self.has_gtm = False
        self.first_push: Any = MISSING
        self.cookie: str | None = None
        self.cookie_used = False
        #: The page's first known time and the last time given to an event (microseconds).
        self.first_us: int | None = None
        self.last_us = -1
        self.held: deque[Held] = deque()
        self.ids_cache: tuple[Any, ...] | None = None
        self.ts_value: Any = MISSING
        self.ts_us = 0
        #: ``location``, ``os``, ``browser``, ``device`` from the page's url and user agent.
        self.defaults = page_properties(meta.get("url"), meta.get("user_agent"))
        #: Parameters of the page's ``gtag('set', ...)`` commands, for its later gtag.js events.
        self.gtag_set: dict[str, Any] = {}
