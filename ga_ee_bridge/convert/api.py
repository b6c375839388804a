"""Convert dataLayer dumps into Exponea events: pages, customers, time, duplicates, rejects.

:func:`convert_dump` reads dumps (see :mod:`ga_ee_bridge.convert.input`) and yields Tracking API
commands and :class:`Reject` records, in input order. The ``convert`` and ``validate`` commands are
thin layers over the same machinery (:func:`kept_items`). Options live in :mod:`.options`, results
in :mod:`.results`; :mod:`ga_ee_bridge.convert.page` converts page by page,
:mod:`ga_ee_bridge.convert.runner` runs that in one process or several.

A **page** is the unit of state (GTM's data model, the cookie, the timestamp sequence). A page is
one page object (``{"dataLayer": [...], ...}``, a whole file or a JSONL line); in a plain list or
JSONL of pushes it runs from the start of the input, or from a ``gtm.js`` push when the page
already had one (GTM loading again means a new page view). Pushes before a page's first
``gtm.js`` therefore belong to it, as ``dataLayer.push`` calls before the GTM snippet do.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping
from hashlib import blake2b
from typing import Any

from ga_ee_bridge.convert.encoders import ENCODERS
from ga_ee_bridge.convert.json_stream import MAX_RECORD
from ga_ee_bridge.convert.links import LinkRule
from ga_ee_bridge.convert.options import ConvertOptions, IdSpec
from ga_ee_bridge.convert.results import (
    CUSTOMERS_SEGMENT,
    ConvertStats,
    Item,
    Reject,
    Run,
    Segment,
)
from ga_ee_bridge.convert.runner import run_parallel, run_serial
from ga_ee_bridge.convert.updates import UpdateSpec

__all__ = ["convert_dump", "iter_results", "kept_items"]


def iter_results(
    inputs: Iterable[str], options: ConvertOptions, *, encoder: str = "commands", jobs: int = 1,
    stats: ConvertStats | None = None,
) -> Iterator[list[Item]]:
    """Batches of :class:`Segment`/:class:`Run`/:class:`Reject`, in input order, before
    duplicate removal.

    ``encoder`` names an entry of :data:`~ga_ee_bridge.convert.encoders.ENCODERS`. With ``jobs`` > 1
    the input is framed here, cut at page boundaries, and converted by that many worker processes;
    the result is the same as with one. Raises :class:`DumpError` for an input that cannot be
    opened.
    """
    stats = stats if stats is not None else ConvertStats()
    if jobs <= 1:
        encode = ENCODERS[encoder]
        for path in inputs:
            yield from run_serial(path, options, encode, stats)
        return
    yield from run_parallel(list(inputs), options, encoder, jobs, stats)


class _Hashes:
    """A set of 64-bit hashes of texts in one array: 8 bytes a slot, at most three quarters full
    (a million transaction ids in 11 to 21 MiB; as a ``set`` of strings, some 85 MiB).

    Two different texts share a hash with a chance of about n^2 / 2^65 (one in 37 million at a
    million ids); one of them would then be dropped as a duplicate.
    """

    __slots__ = ("count", "mask", "slots")

    def __init__(self) -> None:
        self.slots = array("Q", [0]) * 1024
        self.mask = 1023
        self.count = 0

    def add(self, text: str) -> bool:
        """Add ``text``'s hash; whether it was new (linear probing, 0 marks an empty slot)."""
        digest = blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        key = int.from_bytes(digest, "little") or 1
        slots, mask = self.slots, self.mask
        index = key & mask
        while True:
            found = slots[index]
            if found == key:
                return False
            if not found:
                break
            index = (index + 1) & mask
        slots[index] = key
        self.count += 1
        if 4 * self.count > 3 * mask:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self.slots
        mask = 2 * len(old) - 1
        slots = array("Q", [0]) * (2 * len(old))
        for key in old:
            if key:
                index = key & mask
                while slots[index]:
                    index = (index + 1) & mask
                slots[index] = key
        self.slots, self.mask = slots, mask


class _Deduplicator:
    """Drops purchases whose transaction id was seen before (in input order), counting them."""

    def __init__(self, stats: ConvertStats, keep: bool):
        self.seen = _Hashes()
        self.customers = _Hashes()
        self.stats = stats
        self.keep = keep

    def __call__(self, segment: Segment) -> bool:
        transaction = segment.transaction
        if transaction is None:
            return True
        if transaction.startswith(CUSTOMERS_SEGMENT):  # --update: once per customer and values
            if not self.customers.add(transaction):
                return False
            self.stats.customers += 1
            return True
        if self.keep:
            return True
        if not self.seen.add(transaction):
            self.stats.duplicates += 1
            return False
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
                transaction = item.transaction  # type: ignore[union-attr]
                if transaction is None or not transaction.startswith(CUSTOMERS_SEGMENT):
                    for event_type, _ in item.events:  # type: ignore[union-attr]
                        events[event_type] += 1
            elif kind is Run and item.counts:  # type: ignore[union-attr]  # a task's first run only
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
    links: Iterable[LinkRule | str] = (),
    updates: Iterable[UpdateSpec | str] = (),
    event_aliases: Mapping[str, str] | Iterable[str] = (),
    max_record_size: int = MAX_RECORD,
    jobs: int = 1,
    stats: ConvertStats | None = None,
) -> Iterator[dict[str, Any] | Reject]:
    r"""Convert dataLayer dumps: yields Tracking API commands (dicts) and :class:`Reject`s.

    ``inputs``: paths (``-`` for standard input), each a JSON list, JSONL or page object, maybe
    gzipped. ``ids``: :class:`IdSpec`s or ``"NAME=PATH"`` / ``"NAME=:VALUE"`` strings;
    ``timestamp``: the dotted state path of the time (default :data:`DEFAULT_TIMESTAMP_PATHS`).
    ``source``: ``"auto"`` (detected per file, then per push) or one of :data:`SOURCES`;
    ``bq_customer_id``: the BigQuery id column(s) tried in order (see docs/cli.md). ``links``:
    :class:`LinkRule`\ s or ``--link`` strings; ``updates``: :class:`UpdateSpec`\ s or
    ``--update`` strings (their ``customers`` commands come as dicts too);
    ``event_aliases``: renamed events, ``{"dl_purchase": "purchase"}`` or ``["NAME=GA_EVENT"]``;
    ``max_record_size``: the longest line or push read (bytes; longer is a reject). Other options as
    in :func:`~ga_ee_bridge.to_exponea_events`. Everything comes in input order; duplicate purchases
    are left out (counted in ``stats``) unless ``keep_duplicates``. Raises ValueError for bad
    options and :class:`~ga_ee_bridge.convert.input.DumpError` for an input that cannot be opened.
    """
    options = ConvertOptions(
        kind=kind, mapping=mapping, tracked_via=tracked_via, strict=strict,
        ids=tuple(spec if isinstance(spec, IdSpec) else IdSpec.parse(spec) for spec in ids),
        timestamp=timestamp, no_timestamp_ok=no_timestamp_ok, keep_duplicates=keep_duplicates,
        source=source,
        links=tuple(rule if isinstance(rule, LinkRule) else LinkRule.parse(rule)
                    for rule in links),
        updates=tuple(spec if isinstance(spec, UpdateSpec) else UpdateSpec.parse(spec)
                      for spec in updates),
        bq_customer_id=(bq_customer_id,) if isinstance(bq_customer_id, str)
        else tuple(bq_customer_id),
        event_aliases=event_aliases if isinstance(event_aliases, Mapping)
        else tuple(event_aliases),
        max_record_size=max_record_size,
    )
    paths = [inputs] if isinstance(inputs, str) else list(inputs)
    for batch in kept_items(paths, options, encoder="dict", jobs=jobs, stats=stats):
        for item in batch:
            if isinstance(item, Segment):
                for _, command in item.events:
                    yield command
            elif isinstance(item, Reject):
                yield item
