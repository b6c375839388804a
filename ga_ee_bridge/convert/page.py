"""Page-by-page conversion: GTM's state, customer ids, time, held pushes, rejects.

:class:`Converter` turns the records of one input (see :mod:`ga_ee_bridge.convert.input`) into
:class:`~ga_ee_bridge.convert.Segment`s and :class:`~ga_ee_bridge.convert.Reject`s. The same
code runs in the main process and in worker processes (:mod:`ga_ee_bridge.convert.runner`), which is
what keeps the output the same whatever the number of jobs. What a page is: see
:mod:`ga_ee_bridge.convert.api`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections import deque
from typing import Any

from ga_ee_bridge.convert.encoders import Encoder
from ga_ee_bridge.convert.forms import Unit, expand
from ga_ee_bridge.convert.gtm_state import DataModel
from ga_ee_bridge.convert.input import (
    PAGE_END,
    UNDECODED,
    Broken,
    PageStart,
    RawRecord,
    Source,
    broken_line,
    is_page_object,
)
from ga_ee_bridge.convert.options import ConvertOptions, normalise_id
from ga_ee_bridge.convert.results import (
    BAD_CUSTOMER_ID,
    BAD_PAGE,
    BAD_TIMESTAMP,
    INVALID_ECOMMERCE,
    NO_TIMESTAMP,
    ConvertStats,
    Item,
    Reject,
    Segment,
)
from ga_ee_bridge.core.model import Ecommerce
from ga_ee_bridge.core.timestamps import TimestampError, to_micros
from ga_ee_bridge.errors import EcommerceError, flatten_messages, format_path
from ga_ee_bridge.mappings import get_mapping, resolve_kinds
from ga_ee_bridge.mappings.page_defaults import page_properties
from ga_ee_bridge.readers import READ_SOURCES

__all__ = ["Converter", "decode_line"]

_MISSING: Any = object()
_INDEX = re.compile(r"\[\d+\]")

class _PushError(Exception):
    def __init__(self, reason: str, path: str, message: str, value: Any):
        super().__init__(message)
        self.reason, self.path, self.message, self.value = reason, path, message, value


class _Page:
    """The state of one page (see the module docstring)."""

    __slots__ = (
        "cookie", "cookie_used", "defaults", "first_push", "first_us", "has_gtm", "held",
        "ids_cache", "in_object", "last_us", "line", "meta", "model", "position", "prefix",
        "ts_us", "ts_value",
    )

    def __init__(self, line: int, position: int | None, meta: dict[str, Any], prefix: str,
                 in_object: bool, only: frozenset[str]):
        self.line = line
        self.position = position
        self.meta = meta
        self.prefix = prefix
        self.in_object = in_object
        self.model = DataModel(meta, only=only)
        self.has_gtm = False
        self.first_push: Any = _MISSING
        self.cookie: str | None = None
        self.cookie_used = False
        self.first_us: int | None = None
        self.last_us = -1
        self.held: deque[tuple[Any, ...]] = deque()
        self.ids_cache: tuple[Any, ...] | None = None
        self.ts_value: Any = _MISSING
        self.ts_us = 0
        self.defaults = page_properties(meta.get("url"), meta.get("user_agent"))


_raw_decode = json.JSONDecoder().raw_decode


def decode_line(raw: bytes | str) -> Any:
    """A JSON line decoded (UTF-8), or :data:`UNDECODED` when it is not exactly one value.

    ``json.loads(bytes)`` spends a third of its time detecting the encoding; lines are UTF-8.
    """
    try:
        text = raw.decode("utf-8") if type(raw) is bytes else raw
        value, end = _raw_decode(text)  # type: ignore[arg-type]
    except ValueError:  # also UnicodeDecodeError
        return UNDECODED
    if end != len(text) and not text[end:].isspace():
        return UNDECODED
    return value


def _value_at(root: Any, parts: tuple[str | int, ...]) -> Any:
    value = root
    for part in parts:
        found = (type(value) is dict and part in value) or (
            type(value) is list and isinstance(part, int) and 0 <= part < len(value)
        )
        if not found:
            return None
        value = value[part]
    return value


class Converter:
    """Converts the records of one input, page by page, into :class:`Segment`s and rejects.

    Append-only output in :attr:`out` (drained by the caller); counts in :attr:`stats`. The same
    code runs in the main process (``jobs=1``) and in workers, which is what makes the output the
    same whatever the number of jobs.
    """

    def __init__(self, options: ConvertOptions, encode: Encoder, name: str,
                 stats: ConvertStats | None = None):
        self.options = options
        self.encode = encode
        self.name = name
        self.identity = os.path.basename(name)
        self.stats = stats if stats is not None else ConvertStats()
        self.out: list[Item] = []
        self.page: _Page | None = None
        self._pending: PageStart | None = None
        self._kinds = resolve_kinds(options.kind)
        self._mapping = get_mapping(options.mapping)
        self._tracked_via = options.tracked_via or self._mapping.tracked_via
        self._reader = options.reader
        self._source = options.source if options.source in READ_SOURCES else "auto"
        self._strict = options.strict
        self._ts_paths = options.timestamp_paths
        self._id_specs = options.ids
        self._id_paths = tuple(spec.path for spec in options.ids if spec.path)
        only = {"customer_ids"} | {".".join(path) for path in self._ts_paths}
        only |= {".".join(path) for path in self._id_paths}
        self._only = frozenset(only)
        self._dedup = not options.keep_duplicates and "purchase" in self._kinds

    # -- records ---------------------------------------------------------------------------

    def feed(self, record: RawRecord) -> None:
        """Convert one raw record (see :mod:`ga_ee_bridge.convert.input`)."""
        line, index, raw, value = record
        if value is UNDECODED:
            value = decode_line(raw)
            if value is UNDECODED:
                try:
                    value = json.loads(raw)  # only for its error message
                except ValueError as err:
                    self._broken(line, index, broken_line(line, raw, err))
                    return
        if type(value) is dict:
            if "dataLayer" in value and is_page_object(value):
                meta = {key: item for key, item in value.items() if key != "dataLayer"}
                prefix = "dataLayer" if index is None else f"[{index}].dataLayer"
                self._start(PageStart(meta, prefix))
                for position, push in enumerate(value["dataLayer"]):
                    self.push(line, position, push)
                self._end()
                return
            self.push(line, index, value)
        elif type(value) is PageStart:
            self._start(value)
        elif value is PAGE_END:
            self._end()
        elif type(value) is Broken:
            self._broken(line, index, value)
        elif type(value) is Source:
            self._expand(line, index, value)
        else:
            self.push(line, index, value)

    def finish(self) -> None:
        """The input ended: finish its last page."""
        self._end()

    def _start(self, start: PageStart) -> None:
        self._end()
        self._pending = start

    def _end(self) -> None:
        page = self.page
        if page is not None:
            self.page = None
            if page.held:
                self._release_held(page, None)
        self._pending = None

    def _broken(self, line: int, index: int | None, broken: Broken) -> None:
        self.stats.rejects[broken.reason] += 1
        self.out.append(
            Reject(self.name, line, index, broken.reason, (("", broken.message, None),),
                   broken.text)
        )

    def _new_page(self, line: int, index: int | None) -> _Page:
        pending = self._pending
        self._pending = None
        self.stats.pages += 1
        if pending is None:
            return _Page(line, index, {}, "", False, self._only)
        meta = pending.meta
        if "customer_ids" in meta and type(meta["customer_ids"]) is not dict:
            self._reject(line, None, None, BAD_PAGE, [
                ("customer_ids", "page metadata customer_ids must be an object of id name -> "
                 "value; ignored", meta["customer_ids"]),
            ], meta)
            meta = {key: value for key, value in meta.items() if key != "customer_ids"}
        return _Page(line, index, meta, pending.prefix, True, self._only)

    # -- pushes ------------------------------------------------------------------------------

    def push(self, line: int, index: int | None, push: Any) -> None:
        """Convert one dataLayer push of the current page."""
        stats = self.stats
        stats.pushes += 1
        page = self.page
        is_dict = type(push) is dict
        gtm_js = is_dict and push.get("event") == "gtm.js"
        if page is None or (gtm_js and page.has_gtm and not page.in_object):
            if page is not None:
                self._end()
            page = self.page = self._new_page(line, index)
        if is_dict:
            if gtm_js:
                page.has_gtm = True
            page.model.push(push)
        if page.first_push is _MISSING:
            page.first_push = push
        try:
            parsed = self._reader(push, strict=self._strict, source=self._source)
        except EcommerceError as err:
            self._invalid(page, line, index, push, err)
            return
        if parsed is None or parsed.unsupported_event is not None:
            if parsed is not None:
                self._unsupported(line, self._container(page, index), parsed.unsupported_event)
            else:
                stats.skipped += 1
            if page.held:
                self._try_release(page)
            return
        stats.ecommerce += 1
        prefix = "2." if parsed.source == "gtag" else "ecommerce."
        self._convert(page, line, index, push, parsed, prefix, self._container(page, index))

    def _expand(self, line: int, index: int | None, record: Source) -> None:
        """A file-level form's record: its pages, each unit converted like a push."""
        stats = self.stats
        for page in expand(line, index, record, self.options):
            if isinstance(page, Broken):
                self._broken(line, index, page)
                continue
            self._start(PageStart(page.meta, ""))
            stats.pushes += page.skipped
            stats.skipped += page.skipped
            for unit in page.units:
                self._unit(unit)
            self._end()

    def _unit(self, unit: Unit) -> None:
        stats = self.stats
        stats.pushes += unit.pushes
        page = self.page
        if page is None:
            page = self.page = self._new_page(unit.line, unit.index)
        if unit.state:
            page.model.push(unit.state)
        if page.first_push is _MISSING:
            page.first_push = unit.shown
        result = unit.result
        if result is None:
            stats.skipped += unit.pushes
            if page.held:
                self._try_release(page)
            return
        stats.ecommerce += 1
        stats.skipped += unit.pushes - 1
        if isinstance(result, EcommerceError):
            errors = [(format_path(parts), message, _value_at(unit.root, parts))
                      for parts, message in flatten_messages(result.messages)]
            self._reject(unit.line, unit.index, page, INVALID_ECOMMERCE, errors, unit)
            return
        self._convert(page, unit.line, unit.index, unit, result, "", unit.container)

    def _convert(self, page: _Page, line: int, index: int | None, push: Any, parsed: Ecommerce,
                 prefix: str, container: str) -> None:
        """An ecommerce push (or unit), read: its events, ids and time, emitted or held."""
        if parsed.dropped:
            self._note_dropped(line, container, parsed.dropped, prefix)
        groups = self._events(parsed)
        try:
            ids, ids_json = self._ids(page)
            ts = self._timestamp(page)
        except _PushError as err:
            self._reject(line, index, page, err.reason, [(err.path, err.message, err.value)],
                         push, state=True)
            return
        held = (line, index, push, ids, ids_json, groups)
        if ts is None:
            if page.first_us is None:
                page.held.append(held)
                if len(page.held) > self.options.max_held:
                    self._overflow(page)
                return
            # The state lost its timestamp (set to null): keep the page's sequence going.
            ts = max(page.last_us, page.first_us)
        elif page.held:
            self._release_held(page, ts)
        elif page.first_us is None:
            page.first_us = ts
        self._emit(page, held, ts)

    def _events(self, parsed: Ecommerce) -> list[tuple[str | None, list[Any]]]:
        kinds = self._kinds
        mapping = self._mapping
        if self._dedup and "purchase" in parsed.sections:
            purchase = parsed.sections["purchase"]
            at = kinds.index("purchase")
            before, after = kinds[:at], kinds[at + 1:]
            groups: list[tuple[str | None, list[Any]]] = []
            if any(kind in parsed.sections for kind in before):
                groups.append((None, mapping.events(parsed, before,
                                                    tracked_via=self._tracked_via)))
            groups.append((purchase.action_field.id or "", mapping.events(
                parsed, ("purchase",), tracked_via=self._tracked_via)))
            if any(kind in parsed.sections for kind in after):
                groups.append((None, mapping.events(parsed, after,
                                                    tracked_via=self._tracked_via)))
            return groups
        return [(None, mapping.events(parsed, kinds, tracked_via=self._tracked_via))]

    def _ids(self, page: _Page) -> tuple[dict[str, Any], str]:
        model = page.model
        state = model.state
        base = state.get("customer_ids")
        values = (base, page.cookie_used, *[model.get(path) for path in self._id_paths])
        cache = page.ids_cache
        if cache is not None and cache[0] == values:  # equal values give equal ids
            return cache[1], cache[2]
        ids: dict[str, Any] = {}
        if base is not None:
            if type(base) is not dict:
                raise _PushError(BAD_CUSTOMER_ID, "customer_ids",
                                 "customer_ids must be an object of id name -> value", base)
            for name, value in base.items():
                self._add_id(ids, name, value, f"customer_ids.{name}")
        got = iter(values[2:])
        for spec in self._id_specs:
            if spec.path is None:
                ids[spec.name] = spec.value
            else:
                self._add_id(ids, spec.name, next(got), ".".join(spec.path))
        if not ids:
            ids["cookie"] = self._cookie(page)
            page.cookie_used = True
            values = (base, True, *values[2:])
        elif page.cookie_used and "cookie" not in ids:
            ids["cookie"] = self._cookie(page)
        ids_json = json.dumps(ids)
        page.ids_cache = (values, ids, ids_json)
        return ids, ids_json

    @staticmethod
    def _add_id(ids: dict[str, Any], name: str, value: Any, path: str) -> None:
        try:
            normalised = normalise_id(value)
        except ValueError as err:
            raise _PushError(BAD_CUSTOMER_ID, path, f"{err} (customer id {name!r})",
                             value) from None
        if normalised is not None:
            ids[name] = normalised

    def _cookie(self, page: _Page) -> str:
        """A cookie id for the page: the same input at the same position gives the same id."""
        if page.cookie is None:
            opening = json.dumps(
                [page.meta, None if page.first_push is _MISSING else page.first_push],
                sort_keys=True, default=repr,
            )
            key = f"{self.identity}\n{page.line}\n{page.position}\n{opening}"
            digest = hashlib.sha256(key.encode("utf-8")).digest()
            page.cookie = str(uuid.UUID(bytes=digest[:16], version=4))
        return page.cookie

    def _timestamp(self, page: _Page) -> int | None:
        model = page.model
        for path in self._ts_paths:
            value = model.get(path)
            if value is None:
                continue
            if value is page.ts_value:
                return page.ts_us
            try:
                micros = to_micros(value)
            except TimestampError as err:
                raise _PushError(
                    BAD_TIMESTAMP, ".".join(path), f"{err} (in the data-model state)", value
                ) from None
            page.ts_value, page.ts_us = value, micros
            return micros
        return None

    def _try_release(self, page: _Page) -> None:
        try:
            ts = self._timestamp(page)
        except _PushError as err:
            while page.held:
                line, index, push, *_ = page.held.popleft()
                self._reject(line, index, page, err.reason, [(err.path, err.message, err.value)],
                             push, state=True)
            return
        if ts is not None:
            self._release_held(page, ts)

    def _release_held(self, page: _Page, ts: int | None) -> None:
        """Emit held pushes at the page's first timestamp (or reject them: none came)."""
        if ts is not None and page.first_us is None:
            page.first_us = ts
        while page.held:
            held = page.held.popleft()
            if ts is None and not self.options.no_timestamp_ok:
                self._no_timestamp(page, held, "the page ended")
            else:
                self._emit(page, held, ts)

    def _overflow(self, page: _Page) -> None:
        held = page.held.popleft()
        if self.options.no_timestamp_ok:
            self._emit(page, held, None)
        else:
            self._no_timestamp(
                page, held, f"{self.options.max_held} more ecommerce pushes came (the most held)"
            )

    def _no_timestamp(self, page: _Page, held: tuple[Any, ...], why: str) -> None:
        line, index, push = held[:3]
        paths = ", ".join(".".join(path) for path in self._ts_paths)
        hint = f"{push.time_hint}, " if type(push) is Unit and push.time_hint else ""
        message = (
            f"no timestamp: none of {paths} was set before {why}; {hint}pass --timestamp "
            "PATH, or --no-timestamp-ok to let the server use its receive time"
        )
        self._reject(line, index, page, NO_TIMESTAMP, [(".".join(self._ts_paths[0]), message,
                                                        None)], push, state=True)

    def _emit(self, page: _Page, held: tuple[Any, ...], ts: int | None) -> None:
        line, index, push, ids, ids_json, groups = held
        encode = self.encode
        defaults = page.defaults
        last = page.last_us
        out = self.out
        segments = []
        try:
            for transaction, events in groups:
                encoded = []
                for event in events:
                    if ts is None:
                        seconds = None
                    else:
                        last = ts if ts > last else last + 1000
                        seconds = last / 1_000_000
                    properties = dict(event.properties)
                    if defaults:
                        for key, value in defaults.items():
                            properties.setdefault(key, value)
                    encoded.append(
                        (event.event_type,
                         encode(ids, ids_json, event.event_type, seconds, properties))
                    )
                if encoded:
                    segments.append(Segment(transaction, encoded))
        except ValueError as err:  # NaN or infinity, which JSON cannot carry
            self._reject(line, index, page, INVALID_ECOMMERCE,
                         [("ecommerce", f"cannot be sent as JSON: {err}", None)], push)
            return
        page.last_us = last
        out.extend(segments)

    # -- problems ----------------------------------------------------------------------------

    def _unsupported(self, line: int, container: str, event: Any) -> None:
        """A GA4 / gtag.js ecommerce event with no UA counterpart: skipped, counted by name."""
        stats = self.stats
        stats.unsupported[event] += 1
        if event not in stats.unsupported_first:
            stats.unsupported_first[event] = f"{self.name}:{line}" + (
                f" {container}" if container else ""
            )

    def _container(self, page: _Page | None, index: int | None) -> str:
        if page is not None and page.in_object:
            return f"{page.prefix}[{index}]"
        return "" if index is None else f"[{index}]"

    def _reject(self, line: int, index: int | None, page: _Page | None, reason: str,
                errors: list[tuple[str, str, Any]], push: Any, *, state: bool = False) -> None:
        """Record a reject; paths are made to start at the record's root (``[12].ecommerce...``).

        ``state``: the paths are data-model state paths, shown after the push's place
        (``[12] timestamp``).
        """
        if type(push) is Unit:
            container = push.container if state else ""
            push = push.shown
        else:
            container = self._container(page, index)
        join = " " if state else "."
        self.stats.rejects[reason] += 1
        self.out.append(Reject(
            self.name, line, index, reason,
            tuple(
                (f"{container}{join}{path}" if container and path else container or path,
                 message, value)
                for path, message, value in errors
            ),
            push,
        ))

    def _invalid(self, page: _Page, line: int, index: int | None, push: Any,
                 err: EcommerceError) -> None:
        errors = [(format_path(parts), message, _value_at(push, parts))
                  for parts, message in flatten_messages(err.messages)]
        self.stats.ecommerce += 1
        self._reject(line, index, page, INVALID_ECOMMERCE, errors, push)

    def _note_dropped(self, line: int, container: str, dropped: tuple[str, ...],
                      prefix: str) -> None:
        stats = self.stats
        for path in dropped:
            general = prefix + _INDEX.sub("[]", path)
            stats.dropped[general] += 1
            if general not in stats.dropped_first:
                stats.dropped_first[general] = f"{self.name}:{line}" + (
                    f" {container}" if container else ""
                )
