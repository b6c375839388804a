"""Convert dataLayer dumps into Exponea events: pages, customers, time, duplicates, rejects.

:func:`convert_dump` reads dumps (see :mod:`ga_ee_bridge.dumps`) and yields Tracking API commands
and :class:`Reject` records, in input order. The ``convert`` and ``validate`` commands are thin
layers over the same machinery (:func:`kept_items`). This module holds the options and results;
:mod:`ga_ee_bridge.pages` converts page by page, :mod:`ga_ee_bridge.parallel` runs that in one
process or several.

A **page** is the unit of state (GTM's data model, the cookie, the timestamp sequence). A page is
one page object (``{"dataLayer": [...], ...}``, a whole file or a JSONL line); in a plain list or
JSONL of pushes it runs from the start of the input, or from a ``gtm.js`` push when the page
already had one (GTM loading again means a new page view). Pushes before a page's first
``gtm.js`` therefore belong to it, as ``dataLayer.push`` calls before the GTM snippet do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ga_ee_bridge.datamodel import split_path
from ga_ee_bridge.encoders import ENCODERS
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.mappings import get_mapping, resolve_kinds
from ga_ee_bridge.model import KINDS, Ecommerce
from ga_ee_bridge.readers import READ_SOURCES, detect_source, read_push
from ga_ee_bridge.readers.bigquery import CUSTOMER_ID_FIELDS
from ga_ee_bridge.readers.gtag import arguments_of
from ga_ee_bridge.validation import looks_like_email, normalise_email

__all__ = [
    "DEFAULT_TIMESTAMP_PATHS",
    "FILE_SOURCES",
    "PUSH_SOURCES",
    "SOURCES",
    "ConvertOptions",
    "ConvertStats",
    "IdSpec",
    "Reject",
    "Run",
    "Segment",
    "convert_dump",
    "iter_results",
    "kept_items",
    "normalise_id",
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



#: Forms read push by push (in any dataLayer dump), detected per push unless forced.
PUSH_SOURCES: tuple[str, ...] = READ_SOURCES
#: Forms read file by file (their own input forms in :data:`ga_ee_bridge.dumps.FORMS`).
FILE_SOURCES: tuple[str, ...] = ("analyticsjs", "mp", "bq")
#: Every value of ``--source`` besides ``auto``.
SOURCES: tuple[str, ...] = (*PUSH_SOURCES, *FILE_SOURCES)
_UA_KEYS = frozenset(KINDS)


def push_to_ecommerce(push: Any, *, strict: bool = False, source: str = "auto"
                      ) -> Ecommerce | None:
    """The one place a dataLayer push becomes the model: UA, GA4 or gtag.js, detected per push.

    ``source`` forces the form (``"ua"``, ``"ga4"``, ``"gtag"``); ``"auto"`` detects it with
    :func:`~ga_ee_bridge.readers.detect_source` (UA first: a push with both UA sections and GA4
    ``items`` reads once, as UA). None when the push carries no ecommerce data (no
    ``ecommerce``, ``null`` or ``{}``; a gtag.js command or event without ecommerce; a push not
    in the forced form). A GA4/gtag event with no UA counterpart comes back with
    ``unsupported_event`` set. Raises :class:`EcommerceError` with paths from the push's root
    (``ecommerce.items[1].price``, ``2.items[0].price`` for gtag's params).
    """
    if type(push) is dict:
        ecommerce = push.get("ecommerce")
        if type(ecommerce) is dict:
            if not ecommerce:
                return None
            # The cheap path of UA dumps: a UA section key decides at once (UA first).
            if source == "ua" or (source == "auto" and not _UA_KEYS.isdisjoint(ecommerce)):
                return _read(push, "ua", strict)
        elif ecommerce is None and "0" not in push:
            return None
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
    else:
        raise ValueError(
            f"unknown source {source!r}: expected 'auto' or one of {', '.join(PUSH_SOURCES)}"
        )
    result = _read(push, source, strict)
    if source != "ua" and not result.sections and result.unsupported_event is None and (
        not result.dropped_keys
    ):
        return None  # a gtag.js page_view, a GA4 push with nothing to read
    return result


def _read(push: Any, source: str, strict: bool) -> Ecommerce:
    try:
        return read_push(push, source=source, strict=strict)
    except EcommerceError as err:
        raise EcommerceError(_rooted(push, source, err.messages)) from None


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
    if source == "ua" and isinstance(push, dict) and "ecommerce" not in push:
        return messages
    return {"ecommerce": messages}


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
        return normalise_email(text) if looks_like_email(text) else text
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
    #: ``auto`` or one of :data:`SOURCES`: the form of every push (UA, GA4, gtag) or every file
    #: (analytics.js commands, Measurement Protocol hits, BigQuery rows).
    source: str = "auto"
    #: BigQuery rows: the id columns tried in order for the customer (``userId`` -> the
    #: ``registered`` id, ``clientId`` / ``fullVisitorId`` -> ``cookie``).
    bq_customer_id: tuple[str, ...] = ("fullVisitorId",)
    #: Turns one push into the model (or None); module-level so worker processes can use it.
    #: Called as ``reader(push, strict=..., source=...)``.
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
        if self.source != "auto" and self.source not in SOURCES:
            raise ValueError(
                f"unknown source {self.source!r}: expected auto or one of {', '.join(SOURCES)}"
            )
        bad = [name for name in self.bq_customer_id if name not in CUSTOMER_ID_FIELDS]
        if bad or not self.bq_customer_id:
            raise ValueError(
                f"bad BigQuery customer id column {', '.join(bad) or '(none)'}: expected one or "
                f"more of {', '.join(CUSTOMER_ID_FIELDS)}"
            )

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
    #: GA4 / gtag.js ecommerce events with no UA counterpart (``view_cart``...), skipped, by name.
    unsupported: Counter[str] = field(default_factory=Counter)
    #: Where each such event was first seen (``file:line``).
    unsupported_first: dict[str, str] = field(default_factory=dict)

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
        self.unsupported.update(other.unsupported)
        for name, where in other.unsupported_first.items():
            self.unsupported_first.setdefault(name, where)

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
    from ga_ee_bridge.parallel import run_parallel, run_serial  # they build on this module

    stats = stats if stats is not None else ConvertStats()
    if jobs <= 1:
        encode = ENCODERS[encoder]
        for path in inputs:
            yield from run_serial(path, options, encode, stats)
        return
    yield from run_parallel(list(inputs), options, encoder, jobs, stats)


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
    source: str = "auto",
    bq_customer_id: str | Iterable[str] = ("fullVisitorId",),
    jobs: int = 1,
    stats: ConvertStats | None = None,
) -> Iterator[dict[str, Any] | Reject]:
    """Convert dataLayer dumps: yields Tracking API commands (dicts) and :class:`Reject`s.

    ``inputs``: paths (``-`` for standard input), each a JSON list, JSONL or page object, maybe
    gzipped. ``ids``: :class:`IdSpec`s or ``"NAME=PATH"`` / ``"NAME=:VALUE"`` strings;
    ``timestamp``: the dotted state path of the time (default :data:`DEFAULT_TIMESTAMP_PATHS`).
    ``source``: ``"auto"`` (detected per file, then per push) or one of :data:`SOURCES`;
    ``bq_customer_id``: the BigQuery id column(s) tried in order (see docs/cli.md).
    Other options as in :func:`~ga_ee_bridge.to_exponea_events`. Everything comes in input order;
    duplicate purchases are left out (counted in ``stats``) unless ``keep_duplicates``.
    Raises ValueError for bad options and :class:`~ga_ee_bridge.dumps.DumpError` for an input
    that cannot be opened.
    """
    options = ConvertOptions(
        kind=kind, mapping=mapping, tracked_via=tracked_via, strict=strict,
        ids=tuple(spec if isinstance(spec, IdSpec) else IdSpec.parse(spec) for spec in ids),
        timestamp=timestamp, no_timestamp_ok=no_timestamp_ok, keep_duplicates=keep_duplicates,
        source=source,
        bq_customer_id=(bq_customer_id,) if isinstance(bq_customer_id, str)
        else tuple(bq_customer_id),
    )
    paths = [inputs] if isinstance(inputs, str) else list(inputs)
    for batch in kept_items(paths, options, encoder="dict", jobs=jobs, stats=stats):
        for item in batch:
            if isinstance(item, Segment):
                for _, command in item.events:
                    yield command
            elif isinstance(item, Reject):
                yield item
