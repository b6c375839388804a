"""Convert dataLayer dumps into Exponea events: pages, customers, time, duplicates, rejects.

:func:`convert_dump` reads dumps (see :mod:`ga_ee_bridge.dumps`) and yields Tracking API commands
and :class:`Reject` records, in input order. The ``convert`` and ``validate`` commands are thin
layers over the same machinery (:func:`iter_results`).

A **page** is the unit of state (GTM's data model, the cookie, the timestamp sequence). A page is
one page object (``{"dataLayer": [...], ...}``, a whole file or a JSONL line); in a plain list or
JSONL of pushes it runs from the start of the input, or from a ``gtm.js`` push when the page
already had one (GTM loading again means a new page view). Pushes before a page's first
``gtm.js`` therefore belong to it, as ``dataLayer.push`` calls before the GTM snippet do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from ga_ee_bridge.datamodel import DataModel, split_path
from ga_ee_bridge.dumps import (
    PAGE_END,
    READ_ERRORS,
    UNDECODED,
    Broken,
    DumpError,
    PageStart,
    RawRecord,
    broken_line,
    detect_form,
    input_name,
    is_gtm_js,
    is_page_object,
    jsonl_blocks,
    open_input,
    unreadable,
)
from ga_ee_bridge.encoders import ENCODERS, Encoder
from ga_ee_bridge.errors import EcommerceError, flatten_messages, format_path
from ga_ee_bridge.mappings import get_mapping, resolve_kinds
from ga_ee_bridge.model import Ecommerce
from ga_ee_bridge.readers import parse_ecommerce
from ga_ee_bridge.timestamps import TimestampError, to_micros

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = [
    "DEFAULT_TIMESTAMP_PATHS",
    "ConvertOptions",
    "ConvertStats",
    "IdSpec",
    "Reject",
    "Run",
    "Segment",
    "convert_dump",
    "iter_results",
    "push_to_ecommerce",
]

#: Where the timestamp of a push is looked for in the data-model state, first found wins.
DEFAULT_TIMESTAMP_PATHS: tuple[str, ...] = ("timestamp", "event_timestamp", "gtm.start")
#: Reject reasons.
BROKEN_JSON = "broken JSON"
NOT_A_DUMP = "not a dump"
INVALID_ECOMMERCE = "invalid ecommerce"
BAD_CUSTOMER_ID = "bad customer id"
BAD_TIMESTAMP = "bad timestamp"
NO_TIMESTAMP = "no timestamp"
BAD_PAGE = "bad page metadata"

_MISSING: Any = object()
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_INDEX = re.compile(r"\[\d+\]")


def push_to_ecommerce(push: Any, *, strict: bool = False) -> Ecommerce | None:
    """The one place a dataLayer push becomes the model: its ``ecommerce``, parsed.

    None when the push carries no ecommerce data (no ``ecommerce`` key, ``null`` or ``{}``);
    raises :class:`EcommerceError` for bad data. Readers of other forms (GA4, gtag...) replace
    this function through :attr:`ConvertOptions.reader`.
    """
    if type(push) is not dict:
        return None
    ecommerce = push.get("ecommerce")
    if ecommerce is None or ecommerce == {}:
        return None
    return parse_ecommerce(ecommerce, strict=strict)


@dataclass(frozen=True, slots=True)
class IdSpec:
    """A customer id: ``NAME=PATH`` (dotted path in the data-model state) or ``NAME=:VALUE``."""

    name: str
    path: tuple[str, ...] | None = None
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> IdSpec:
        """Parse ``registered=user.email`` or ``registered=:jane@example.com``."""
        name, sep, rest = text.partition("=")
        name = name.strip()
        if not sep or not name or not rest:
            raise ValueError(
                f"bad --id {text!r}: expected NAME=PATH (e.g. registered=user.email) or "
                "NAME=:VALUE (e.g. registered=:jane@example.com)"
            )
        if rest.startswith(":"):
            value = normalise_id(rest[1:])
            if value is None:
                raise ValueError(f"bad --id {text!r}: the value after ':' is empty")
            return cls(name, value=value)
        return cls(name, path=split_path(rest))


def normalise_id(value: Any) -> str | None:
    """A customer id as sent: text trimmed, emails lower-cased, integers as text; None if blank.

    Raises ValueError for what cannot be an id (objects, lists, booleans, fractional numbers).
    """
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return text.lower() if _EMAIL.fullmatch(text) else text
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    raise ValueError(f"not a customer id: {value!r} (expected text or a whole number)")


@dataclass(frozen=True, kw_only=True)
class ConvertOptions:
    """Everything that decides what a dump converts to (keyword-only; validated on creation)."""

    kind: str = "all"
    mapping: str = "sdk"
    tracked_via: str | None = None
    strict: bool = False
    ids: tuple[IdSpec, ...] = ()
    timestamp: str | None = None
    no_timestamp_ok: bool = False
    keep_duplicates: bool = False
    #: Ecommerce pushes held per page while waiting for its first timestamp.
    max_held: int = 1000
    #: Turns one push into the model (or None); module-level so worker processes can use it.
    reader: Callable[..., Ecommerce | None] = push_to_ecommerce

    def __post_init__(self) -> None:
        resolve_kinds(self.kind)
        get_mapping(self.mapping)
        if self.tracked_via is not None and not self.tracked_via:
            raise ValueError("tracked_via must not be empty")
        if self.timestamp is not None:
            split_path(self.timestamp)
        names = [spec.name for spec in self.ids]
        if len(set(names)) != len(names):
            raise ValueError(f"customer id given twice: {names}")
        if self.max_held < 1:
            raise ValueError("max_held must be at least 1")

    @property
    def timestamp_paths(self) -> tuple[tuple[str, ...], ...]:
        """The split timestamp paths, in the order they are tried."""
        paths = (self.timestamp,) if self.timestamp else DEFAULT_TIMESTAMP_PATHS
        return tuple(split_path(path) for path in paths)


@dataclass(slots=True)
class ConvertStats:
    """Counts of one conversion (summed over worker processes)."""

    inputs: int = 0
    pushes: int = 0
    ecommerce: int = 0
    skipped: int = 0
    pages: int = 0
    events: Counter[str] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    #: Input keys the reader left out, by path with indices removed (``purchase.products[].sku``).
    dropped: Counter[str] = field(default_factory=Counter)
    #: Where each dropped path was first seen (``file:line``).
    dropped_first: dict[str, str] = field(default_factory=dict)

    def add(self, other: ConvertStats) -> None:
        """Add the counts of ``other`` (a later part of the same run) to these."""
        self.inputs += other.inputs
        self.pushes += other.pushes
        self.ecommerce += other.ecommerce
        self.skipped += other.skipped
        self.pages += other.pages
        self.events.update(other.events)
        self.rejects.update(other.rejects)
        self.duplicates += other.duplicates
        self.dropped.update(other.dropped)
        for path, where in other.dropped_first.items():
            self.dropped_first.setdefault(path, where)

    @property
    def rejected(self) -> int:
        """How many pushes (or broken records) were rejected."""
        return sum(self.rejects.values())


@dataclass(frozen=True, slots=True)
class Reject:
    """A push (or piece of input) that could not be converted, with where and why.

    ``errors`` holds ``(path, message, value)``: ``path`` from the record's root (``[12].ecommerce
    .purchase.actionField.id`` for the 13th push of a list, ``dataLayer[3]...`` in a page object),
    ``value`` the value found there (:data:`None` when there is none).
    """

    input: str
    line: int
    index: int | None
    reason: str
    errors: tuple[tuple[str, str, Any], ...]
    push: Any

    def to_json(self) -> dict[str, Any]:
        """The JSON record of ``--rejects``."""
        return {
            "input": self.input,
            "line": self.line,
            "index": self.index,
            "reason": self.reason,
            "errors": [
                {"path": path, "message": message, "value": value}
                for path, message, value in self.errors
            ],
            "push": self.push,
        }

    def report_lines(self) -> list[str]:
        """``file:line path: message``, one per error (what ``validate`` prints)."""
        return [
            f"{self.input}:{self.line} {path}: {message}" if path
            else f"{self.input}:{self.line}: {message}"
            for path, message, _ in self.errors
        ]


class Segment(NamedTuple):
    """Converted events of one push, in order; ``transaction`` set for a purchase (dedup)."""

    transaction: str | None
    events: list[tuple[str, Any]]


class Run(NamedTuple):
    """Several pushes' encoded commands, joined (from worker processes: less to pickle)."""

    text: str
    counts: dict[str, int]


Item = Segment | Reject | Run


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
        self.defaults = _page_properties(meta.get("url"), meta.get("user_agent"))


@lru_cache(maxsize=256)
def _user_agent_properties(user_agent: str) -> tuple[tuple[str, str], ...]:
    from ua_parser import parse  # imported on first use: it loads many regexes

    result = parse(user_agent)
    return (
        ("os", result.os.family if result.os else "Other"),
        ("browser", result.user_agent.family if result.user_agent else "Other"),
        ("device", result.device.family if result.device else "Other"),
    )


def _page_properties(url: Any, user_agent: Any) -> dict[str, Any]:
    """What the web SDK adds to every event: ``location`` and ``os``/``browser``/``device``."""
    properties: dict[str, Any] = {}
    if isinstance(url, str) and url:
        properties["location"] = url
    if isinstance(user_agent, str) and user_agent:
        properties.update(_user_agent_properties(user_agent))
    return properties


_raw_decode = json.JSONDecoder().raw_decode


def _decode_line(raw: bytes | str) -> Any:
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
        """Convert one raw record (see :mod:`ga_ee_bridge.dumps`)."""
        line, index, raw, value = record
        if value is UNDECODED:
            value = _decode_line(raw)
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
            parsed = self._reader(push, strict=self._strict)
        except EcommerceError as err:
            self._invalid(page, line, index, push, err)
            return
        if parsed is None:
            stats.skipped += 1
            if page.held:
                self._try_release(page)
            return
        stats.ecommerce += 1
        if parsed.dropped:
            self._note_dropped(line, self._container(page, index), parsed.dropped)
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
        message = (
            f"no timestamp: none of {paths} was set before {why}; pass --timestamp PATH, or "
            "--no-timestamp-ok to let the server use its receive time"
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
        ecommerce = push.get("ecommerce") if type(push) is dict else push
        errors = []
        for parts, message in flatten_messages(err.messages):
            path = format_path(("ecommerce", *parts)) if type(push) is dict else format_path(parts)
            errors.append((path, message, _value_at(ecommerce, parts)))
        self.stats.ecommerce += 1
        self._reject(line, index, page, INVALID_ECOMMERCE, errors, push)

    def _note_dropped(self, line: int, container: str, dropped: tuple[str, ...]) -> None:
        stats = self.stats
        for path in dropped:
            general = "ecommerce." + _INDEX.sub("[]", path)
            stats.dropped[general] += 1
            if general not in stats.dropped_first:
                stats.dropped_first[general] = f"{self.name}:{line}" + (
                    f" {container}" if container else ""
                )


# -- running: one process or several ---------------------------------------------------------

#: Records converted between two hand-overs to the caller (one process).
BATCH = 2000
#: Records per worker task for framed records (JSON lists); cut at page boundaries only.
TASK_RECORDS = 4000
#: Bytes per worker task for JSON lines; cut at page boundaries only.
TASK_BYTES = 1 << 20
#: A page longer than this (records, or bytes of JSON lines) is converted in the main process.
LONG_PAGE = 200_000
LONG_BYTES = 1 << 26


def _not_a_dump(name: str, err: DumpError, stats: ConvertStats) -> Reject:
    stats.rejects[NOT_A_DUMP] += 1
    return Reject(name, 1, None, NOT_A_DUMP, (("", str(err), None),), None)


def iter_results(
    inputs: Iterable[str], options: ConvertOptions, *, encoder: str = "commands", jobs: int = 1,
    stats: ConvertStats | None = None,
) -> Iterator[list[Item]]:
    """Batches of :class:`Segment`/:class:`Run`/:class:`Reject`, in input order, before
    duplicate removal.

    ``encoder`` names an entry of :data:`~ga_ee_bridge.encoders.ENCODERS`. With ``jobs`` > 1 the
    input is framed here, cut at page boundaries, and converted by that many worker processes;
    the result is the same as with one. Raises :class:`DumpError` for an input that cannot be
    opened.
    """
    stats = stats if stats is not None else ConvertStats()
    encode = ENCODERS[encoder]
    if jobs <= 1:
        for path in inputs:
            yield from _serial(path, options, encode, stats)
        return
    yield from _parallel(list(inputs), options, encoder, jobs, stats)


def _open(path: str, stats: ConvertStats) -> tuple[Any, Any, Reject | None]:
    stream, head = open_input(path)
    stats.inputs += 1
    try:
        return stream, detect_form(head, path=input_name(path)), None
    except DumpError as err:
        stream.close()
        return None, None, _not_a_dump(input_name(path), err, stats)


def _serial(path: str, options: ConvertOptions, encode: Encoder,
            stats: ConvertStats) -> Iterator[list[Item]]:
    stream, form, problem = _open(path, stats)
    if problem is not None:
        yield [problem]
        return
    converter = Converter(options, encode, input_name(path), stats)
    out = converter.out
    with stream:
        count = 0
        feed = converter.feed
        for record in form.raw_records(stream, keep_text=False):
            feed(record)
            count += 1
            if count >= BATCH and out:
                yield out[:]
                out.clear()
                count = 0
        converter.finish()
    if out:
        yield out[:]
        out.clear()


_WORKER: tuple[ConvertOptions, Encoder, bool] | None = None


def _init_worker(options: ConvertOptions, encoder: str) -> None:
    global _WORKER
    _WORKER = (options, ENCODERS[encoder], encoder == "commands")


def _feed_lines(converter: Converter, pieces: list[tuple[int, bytes]]) -> None:
    """Feed whole JSON lines (``(first line number, bytes)`` pieces) as JSONL reading does."""
    feed = converter.feed
    for first, data in pieces:
        for number, line in enumerate(data.split(b"\n"), first):
            if line.strip():
                feed((number, None, line, UNDECODED))


def _work(name: str, records: list[RawRecord] | None,
          pieces: list[tuple[int, bytes]] | None) -> tuple[list[Item], ConvertStats]:
    """A worker's task: whole pages, as records or as JSON-lines bytes."""
    assert _WORKER is not None
    options, encode, joinable = _WORKER
    converter = Converter(options, encode, name)
    if pieces is not None:
        _feed_lines(converter, pieces)
    else:
        feed = converter.feed
        for record in records or ():
            feed(record)
    converter.finish()
    out = _joined(converter.out) if joinable else converter.out
    return out, converter.stats


def _joined(items: list[Item]) -> list[Item]:
    """Commands of pushes that are no purchase joined into :class:`Run`s (in order)."""
    result: list[Item] = []
    texts: list[str] = []
    counts: dict[str, int] = {}
    for item in items:
        if type(item) is Segment and item.transaction is None:
            for event_type, text in item.events:
                texts.append(text)
                counts[event_type] = counts.get(event_type, 0) + 1
            continue
        if texts:
            result.append(Run("".join(texts), counts))
            texts, counts = [], {}
        result.append(item)
    if texts:
        result.append(Run("".join(texts), counts))
    return result


_CANDIDATE = re.compile(rb"gtm\.js|dataLayer|\\u")


class _Framer:
    """Where pages begin, seen from the main process, exactly as :class:`Converter` decides."""

    __slots__ = ("after_page", "has_gtm", "in_object")

    def __init__(self) -> None:
        self.has_gtm = self.in_object = self.after_page = False

    def boundary(self, value: Any) -> bool:
        """Whether a page begins at the record whose (decoded, if known) value this is."""
        boundary = self.after_page
        self.after_page = False
        if type(value) is PageStart:
            boundary = self.in_object = True
        elif value is PAGE_END:
            self.in_object = self.has_gtm = False
            self.after_page = True
        elif is_page_object(value):
            boundary = self.after_page = True
            self.has_gtm = False
        elif not self.in_object and is_gtm_js(value):
            boundary = boundary or self.has_gtm
            self.has_gtm = True
        return boundary

    def line_boundaries(self, block: bytes) -> list[int]:
        """Offsets in a block of whole JSON lines where pages begin (candidates only decoded)."""
        found: list[int] = []
        if self.after_page:
            found.append(0)
            self.after_page = False
        last_start = -1
        for match in _CANDIDATE.finditer(block):
            start = block.rfind(b"\n", 0, match.start()) + 1
            if start == last_start:
                continue
            last_start = start
            end = block.find(b"\n", match.start())
            end = len(block) if end < 0 else end + 1
            value = _decode_line(block[start:end])
            if self.boundary(value):
                found.append(start)
            if self.after_page:
                found.append(end)
                self.after_page = False
        return found


def _parallel(inputs: list[str], options: ConvertOptions, encoder: str, jobs: int,
              stats: ConvertStats) -> Iterator[list[Item]]:
    import multiprocessing  # here: most runs use one process
    from concurrent.futures import ProcessPoolExecutor

    encode = ENCODERS[encoder]
    context = multiprocessing.get_context("fork" if "fork" in
                                          multiprocessing.get_all_start_methods() else None)
    pending: deque[Future[tuple[list[Item], ConvertStats]]] = deque()

    def collect(limit: int) -> Iterator[list[Item]]:
        while len(pending) > limit:
            items, part = pending.popleft().result()
            stats.add(part)
            yield items

    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                             initargs=(options, encoder)) as pool:

        def submit(name: str, records: list[RawRecord] | None,
                   pieces: list[tuple[int, bytes]] | None) -> Iterator[list[Item]]:
            pending.append(pool.submit(_work, name, records, pieces))
            yield from collect(2 * jobs)

        for path in inputs:
            stream, form, problem = _open(path, stats)
            if problem is not None:
                yield from collect(0)
                yield [problem]
                continue
            name = input_name(path)
            with stream:
                if form.name == "jsonl":
                    yield from _parallel_lines(stream, name, options, encode, stats, submit,
                                               collect)
                else:
                    yield from _parallel_records(form.raw_records(stream, keep_text=True), name,
                                                 options, encode, stats, submit, collect)
        yield from collect(0)


Submit = Callable[[str, "list[RawRecord] | None", "list[tuple[int, bytes]] | None"],
                  Iterator[list[Item]]]
Collect = Callable[[int], Iterator[list[Item]]]


def _parallel_lines(stream: Any, name: str, options: ConvertOptions, encode: Encoder,
                    stats: ConvertStats, submit: Submit, collect: Collect
                    ) -> Iterator[list[Item]]:
    """JSON lines in blocks: the main process only looks at lines that may begin a page."""
    framer = _Framer()
    pieces: list[tuple[int, bytes]] = []
    size = 0
    local: Converter | None = None  # converting a long page here, in order
    blocks = jsonl_blocks(stream)
    last = 1
    while True:
        try:
            first, block = next(blocks)
        except StopIteration:
            break
        except READ_ERRORS as err:
            # Everything read so far goes on as usual, then the reject (see JsonLinesForm).
            yield from _lines_then(pieces, local, name, options, encode, stats, submit)
            broken = Converter(options, encode, name, stats)
            broken.feed((last, None, None, unreadable(err, f"line {last}")))
            yield broken.out
            return
        last = first + block.count(b"\n")
        cuts = framer.line_boundaries(block)
        done = 0
        line = first
        for cut in cuts:
            if local is not None:
                _feed_lines(local, [(line, block[done:cut])])
                line += block.count(b"\n", done, cut)
                done = cut
                local.finish()
                stats.add(local.stats)
                yield local.out
                local = None
            elif size + cut - done >= TASK_BYTES:
                pieces.append((line, block[done:cut]))
                line += block.count(b"\n", done, cut)
                done = cut
                yield from submit(name, None, pieces)
                pieces, size = [], 0
        rest = block[done:]
        if local is not None:
            _feed_lines(local, [(line, rest)])
            yield local.out[:]
            local.out.clear()
            continue
        pieces.append((line, rest))
        size += len(rest)
        if size > LONG_BYTES:
            yield from collect(0)
            local = Converter(options, encode, name)
            _feed_lines(local, pieces)
            pieces, size = [], 0
    yield from _lines_then(pieces, local, name, options, encode, stats, submit)


def _lines_then(pieces: list[tuple[int, bytes]], local: Converter | None, name: str,
                options: ConvertOptions, encode: Encoder, stats: ConvertStats,
                submit: Submit) -> Iterator[list[Item]]:
    """The end of JSON lines: finish the long page converted here, or send the last task."""
    if local is not None:
        local.finish()
        stats.add(local.stats)
        yield local.out
    elif pieces:
        yield from submit(name, None, pieces)


def _parallel_records(records: Iterable[RawRecord], name: str, options: ConvertOptions,
                      encode: Encoder, stats: ConvertStats, submit: Submit, collect: Collect
                      ) -> Iterator[list[Item]]:
    """Framed records (JSON text): decoded here to find pages, sent on as their text."""
    framer = _Framer()
    chunk: list[RawRecord] = []
    local: Converter | None = None
    for record in records:
        line, index, raw, value = record
        if framer.boundary(value):
            if local is not None:
                local.finish()
                stats.add(local.stats)
                yield local.out
                local = None
            elif len(chunk) >= TASK_RECORDS:
                yield from submit(name, chunk, None)
                chunk = []
        if raw is not None and value is not UNDECODED:
            record = (line, index, raw, UNDECODED)  # text pickles faster than objects
        if local is not None:
            local.feed(record)
            if len(local.out) >= BATCH:
                yield local.out[:]
                local.out.clear()
            continue
        chunk.append(record)
        if len(chunk) > LONG_PAGE:
            yield from collect(0)
            local = Converter(options, encode, name)
            for earlier in chunk:
                local.feed(earlier)
            chunk = []
    if local is not None:
        local.finish()
        stats.add(local.stats)
        yield local.out
    elif chunk:
        yield from submit(name, chunk, None)


class _Deduplicator:
    """Drops purchases whose transaction id was seen before (in input order), counting them."""

    def __init__(self, stats: ConvertStats, keep: bool):
        self.seen: set[str] = set()
        self.stats = stats
        self.keep = keep

    def __call__(self, segment: Segment) -> bool:
        transaction = segment.transaction
        if transaction is None or self.keep:
            return True
        if transaction in self.seen:
            self.stats.duplicates += 1
            return False
        self.seen.add(transaction)
        return True


def kept_items(
    inputs: Iterable[str], options: ConvertOptions, *, encoder: str = "commands", jobs: int = 1,
    stats: ConvertStats | None = None,
) -> Iterator[list[Item]]:
    """:func:`iter_results` after duplicate purchases are dropped; events counted in ``stats``."""
    stats = stats if stats is not None else ConvertStats()
    keep = _Deduplicator(stats, options.keep_duplicates)
    events = stats.events
    for batch in iter_results(inputs, options, encoder=encoder, jobs=jobs, stats=stats):
        kept: list[Item] = []
        for item in batch:
            kind = type(item)
            if kind is Segment:
                if not keep(item):  # type: ignore[arg-type]
                    continue
                for event_type, _ in item.events:  # type: ignore[union-attr]
                    events[event_type] += 1
            elif kind is Run:
                events.update(item.counts)  # type: ignore[union-attr]
            kept.append(item)
        yield kept


def convert_dump(
    inputs: str | Iterable[str],
    *,
    kind: str = "all",
    mapping: str = "sdk",
    tracked_via: str | None = None,
    strict: bool = False,
    ids: Iterable[IdSpec | str] = (),
    timestamp: str | None = None,
    no_timestamp_ok: bool = False,
    keep_duplicates: bool = False,
    jobs: int = 1,
    stats: ConvertStats | None = None,
) -> Iterator[dict[str, Any] | Reject]:
    """Convert dataLayer dumps: yields Tracking API commands (dicts) and :class:`Reject`s.

    ``inputs``: paths (``-`` for standard input), each a JSON list, JSONL or page object, maybe
    gzipped. ``ids``: :class:`IdSpec`s or ``"NAME=PATH"`` / ``"NAME=:VALUE"`` strings;
    ``timestamp``: the dotted state path of the time (default :data:`DEFAULT_TIMESTAMP_PATHS`).
    Other options as in :func:`~ga_ee_bridge.to_exponea_events`. Everything comes in input order;
    duplicate purchases are left out (counted in ``stats``) unless ``keep_duplicates``.
    Raises ValueError for bad options and :class:`~ga_ee_bridge.dumps.DumpError` for an input
    that cannot be opened.
    """
    options = ConvertOptions(
        kind=kind, mapping=mapping, tracked_via=tracked_via, strict=strict,
        ids=tuple(spec if isinstance(spec, IdSpec) else IdSpec.parse(spec) for spec in ids),
        timestamp=timestamp, no_timestamp_ok=no_timestamp_ok, keep_duplicates=keep_duplicates,
    )
    paths = [inputs] if isinstance(inputs, str) else list(inputs)
    for batch in kept_items(paths, options, encoder="dict", jobs=jobs, stats=stats):
        for item in batch:
            if isinstance(item, Segment):
                for _, command in item.events:
                    yield command
            elif isinstance(item, Reject):
                yield item
