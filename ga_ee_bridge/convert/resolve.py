"""Who and when: a page's customer ids (or its derived cookie) and the time of its pushes.

Both are read from the page's GTM data-model state after each push, as the site's own tags would
have read them; what cannot be an id or a time becomes :class:`Unresolved`, which the converter
turns into a reject of that push.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from ga_ee_bridge.convert.options import ConvertOptions, normalise_id
from ga_ee_bridge.convert.page import MISSING, PageState
from ga_ee_bridge.convert.reasons import RejectReason
from ga_ee_bridge.core.timestamps import TimestampError, to_micros

__all__ = ["Resolver", "Unresolved"]


class Unresolved(Exception):
    """Internal: a push whose customer or time cannot be read (becomes a reject, never escapes)."""

    def __init__(self, reason: str, path: str, message: str, value: Any):
        super().__init__(message)
        self.reason, self.path, self.message, self.value = reason, path, message, value


class Resolver:
    """Reads customer ids and timestamps from a page's state, as the options say."""

    def __init__(self, options: ConvertOptions, name: str):
        # ``name`` names the input in rejects only: a customer never depends on it.
        self.ts_paths = options.timestamp_paths
        self.id_specs = options.ids
        self.id_paths = tuple(spec.path for spec in options.ids if spec.path)

    @property
    def state_paths(self) -> frozenset[str]:
        """The data-model paths this resolver reads (the only ones the state needs to keep)."""
        only = {"customer_ids"} | {".".join(path) for path in self.ts_paths}
        only |= {".".join(path) for path in self.id_paths}
        return frozenset(only)

    def ids(self, page: PageState) -> tuple[dict[str, Any], str]:
        """The customer ids of the page's current push, and their JSON (cached while unchanged)."""
        model = page.model
        state = model.state
        base = state.get("customer_ids")
        values = (base, page.cookie_used, *[model.get(path) for path in self.id_paths])
        cache = page.ids_cache
        if cache is not None and cache[0] == values:  # equal values give equal ids
            return cache[1], cache[2]
        ids: dict[str, Any] = {}
        if base is not None:
            if type(base) is not dict:
                raise Unresolved(RejectReason.BAD_CUSTOMER_ID, "customer_ids",
                                 "customer_ids must be an object of id name -> value", base)
            for name, value in base.items():
                _add_id(ids, name, value, f"customer_ids.{name}")
        got = iter(values[2:])
        for spec in self.id_specs:
            if spec.path is None:
                ids[spec.name] = spec.value
            else:
                _add_id(ids, spec.name, next(got), ".".join(spec.path))
        if not ids:
            ids["cookie"] = self.cookie(page)
            page.cookie_used = True
            values = (base, True, *values[2:])
        elif page.cookie_used and "cookie" not in ids:
            ids["cookie"] = self.cookie(page)
        ids_json = json.dumps(ids)
        page.ids_cache = (values, ids, ids_json)
        return ids, ids_json

    def cookie(self, page: PageState) -> str:
        """A cookie id for the page, from its data alone: its metadata, first push and position in
        its input (never the input's name: a file, its renamed copy and standard input agree)."""
        if page.cookie is None:
            opening = json.dumps(
                [page.meta, None if page.first_push is MISSING else page.first_push],
                sort_keys=True, default=repr,
            )
            key = f"{page.line}\n{page.position}\n{opening}"
            digest = hashlib.sha256(key.encode("utf-8")).digest()
            page.cookie = str(uuid.UUID(bytes=digest[:16], version=4))
        return page.cookie

    def timestamp(self, page: PageState) -> int | None:
        """The time in the page's state now (microseconds), None when none is set yet."""
        model = page.model
        for path in self.ts_paths:
            value = model.get(path)
            if value is None:
                continue
            if value is page.ts_value:
                return page.ts_us
            try:
                micros = to_micros(value)
            except TimestampError as err:
                raise Unresolved(
                    RejectReason.BAD_TIMESTAMP, ".".join(path), f"{err} (in the data-model state)",
                    value,
                ) from None
            page.ts_value, page.ts_us = value, micros
            return micros
        return None


def _add_id(ids: dict[str, Any], name: str, value: Any, path: str) -> None:
    try:
        normalised = normalise_id(value)
    except ValueError as err:
        raise Unresolved(RejectReason.BAD_CUSTOMER_ID, path, f"{err} (customer id {name!r})",
                         value) from None
    if normalised is not None:
        ids[name] = normalised
