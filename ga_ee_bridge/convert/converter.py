"""Page-by-page conversion of one input's records into segments and rejects.

:class:`Converter` turns the records of one input (see :mod:`ga_ee_bridge.convert.input`) into
:class:`~ga_ee_bridge.convert.Segment`\\ s and :class:`~ga_ee_bridge.convert.Reject`\\ s. The same
code runs in the main process and in worker processes (:mod:`ga_ee_bridge.convert.runner`), which
is what keeps the output the same whatever the number of jobs. It keeps the order of things; the
page's state lives in :mod:`.page`, customers and time in :mod:`.resolve`, events in :mod:`.emit`
and the account of problems in :mod:`.rejects`.
"""

from __future__ import annotations

from typing import Any

from ga_ee_bridge.convert.emit import Emitter, Groups
from ga_ee_bridge.convert.encoders import Encoder
from ga_ee_bridge.convert.forms import Unit, expand
from ga_ee_bridge.convert.input import (
    PAGE_END,
    UNDECODED,
    Broken,
    PageStart,
    RawRecord,
    Source,
    is_page_object,
)
from ga_ee_bridge.convert.links import link_events
from ga_ee_bridge.convert.options import ConvertOptions, parse_aliases
from ga_ee_bridge.convert.page import MISSING, Held, PageState
from ga_ee_bridge.convert.pushes import (
    push_to_ecommerce,
    raw_ua_ecommerce,
    rooted_messages,
    ua_ecommerce,
)
from ga_ee_bridge.convert.reasons import RejectReason, fault_of
from ga_ee_bridge.convert.records import TEXT_LIMIT, decode_record
from ga_ee_bridge.convert.rejects import Ledger
from ga_ee_bridge.convert.resolve import Resolver, Unresolved
from ga_ee_bridge.convert.results import (
    ConvertStats,
    Item,
)
from ga_ee_bridge.convert.shapes import NOT_FOR_ANALYTICS, Shapes
from ga_ee_bridge.convert.updates import Updater
from ga_ee_bridge.core.model import Ecommerce
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.mappings.compiled import CompiledEvents
from ga_ee_bridge.readers import READ_SOURCES, ga4_params
from ga_ee_bridge.readers.gtag import arguments_of

__all__ = ["Converter"]


class Converter:
    """Converts the records of one input, page by page, into :class:`Segment`s and rejects.

    Append-only output in :attr:`out` (drained by the caller); counts in :attr:`stats`. The same
    code runs in the main process (``jobs=1``) and in workers, which is what makes the output the
    same whatever the number of jobs.
    """

    def __init__(self, options: ConvertOptions, encode: Encoder, name: str,
                 stats: ConvertStats | None = None):
        self.options = options
        self.name = name
        self.stats = stats if stats is not None else ConvertStats()
        self.out: list[Item] = []
        self.page: PageState | None = None
        self._pending: PageStart | None = None
        self._reader = options.reader
        self._source = options.source if options.source in READ_SOURCES else "auto"
        self._strict = options.strict
        self.resolver = Resolver(options, name)
        self.emitter = Emitter(options, encode)
        self.ledger = Ledger(name, self.stats, self.out)
        self.shapes = Shapes(parse_aliases(options.event_aliases))
        self._plain = not self.shapes.aliases  # a plain push needs no shaping (the fast path)
        self._links = options.links
        self._updater = Updater(options.updates, encode) if options.updates else None
        self._only = self.resolver.state_paths | Updater.state_paths(options.updates)
        #: The mapping compiled for UA objects (the hot path), when the reader is the built-in.
        self._compiled = self.emitter.compiled if self._reader is push_to_ecommerce else None
        #: ... and for GA4 events (``--source auto`` or ``ga4``).
        self._compiled_ga4 = self.emitter.compiled_ga4 if (
            self._reader is push_to_ecommerce and self._source in ("auto", "ga4")) else None
        self._forced_ga4 = self._source == "ga4"

    # -- records ---------------------------------------------------------------------------

    def feed(self, record: RawRecord) -> None:
        """Convert one raw record (see :mod:`ga_ee_bridge.convert.input`).

        Nothing that goes wrong with one push, line, row or hit stops the run: it becomes a
        reject of that unit, with its reason (see :func:`~.reasons.fault_of`).
        """
        line, index, raw, value = record
        if value is UNDECODED:
            value = decode_record(line, raw)
        kind = type(value)
        if kind is dict:
            if "dataLayer" in value and is_page_object(value):
                meta = {key: item for key, item in value.items() if key != "dataLayer"}
                prefix = "dataLayer" if index is None else f"[{index}].dataLayer"
                self._start(PageStart(meta, prefix))
                for position, push in enumerate(value["dataLayer"]):
                    self.push(line, position, push)
                self._end()
                return
            self.push(line, index, value)
        elif kind is PageStart:
            self._start(value)
        elif value is PAGE_END:
            self._end()
        elif kind is Broken:
            self.ledger.broken(line, index, value)
        elif kind is Source:
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

    def _new_page(self, line: int, index: int | None) -> PageState:
        pending = self._pending
        self._pending = None
        self.stats.pages += 1
        if pending is None:
            return PageState(line, index, {}, "", False, self._only)
        meta = pending.meta
        if "customer_ids" in meta and type(meta["customer_ids"]) is not dict:
            self.ledger.reject(line, None, None, RejectReason.BAD_PAGE, [
                ("customer_ids", "page metadata customer_ids must be an object of id name -> "
                 "value; ignored", meta["customer_ids"]),
            ], meta)
            meta = {key: value for key, value in meta.items() if key != "customer_ids"}
        return PageState(line, index, meta, pending.prefix, True, self._only)

    # -- pushes ------------------------------------------------------------------------------

    def push(self, line: int, index: int | None, push: Any) -> None:
        """Convert one dataLayer push of the current page; a failure rejects this push only."""
        try:
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
            if page.first_push is MISSING:
                page.first_push = push
            shaped = push if self._plain and is_dict and "0" not in push else (
                self.shapes.shape(page, push))
            if shaped is NOT_FOR_ANALYTICS:
                self.ledger.not_for_analytics(line, self.ledger.container(page, index),
                                              arguments_of(push)[1])  # type: ignore[index]
                if page.held:
                    self._try_release(page)
                return
            compiled = self._compiled
            if compiled is not None:
                ecommerce = ua_ecommerce(shaped, self._source)
                if ecommerce is not None:
                    converted = compiled(ecommerce)
                    if converted is not None:  # else the model says what it could not read
                        self._place_compiled(page, line, index, push, converted)
                        return
            compiled_ga4 = self._compiled_ga4
            if compiled_ga4 is not None:
                found = ga4_params(shaped, forced=self._forced_ga4)
                if found is not None:
                    converted = compiled_ga4(*found)
                    if converted is not None:
                        self._place_compiled(page, line, index, push, converted)
                        return
            if self.emitter.raw:
                ecommerce = raw_ua_ecommerce(shaped, self._source)
                if ecommerce is not None:
                    stats.ecommerce += 1
                    self._convert_raw(page, line, index, push, ecommerce,
                                      self.ledger.container(page, index))
                    return
            try:
                parsed = self._reader(shaped, strict=self._strict, source=self._source)
            except EcommerceError as err:
                stats.ecommerce += 1
                self.ledger.invalid(page, line, index, push, err)
                return
            if parsed is None or parsed.unsupported_event is not None:
                if parsed is not None:
                    self.ledger.unsupported(line, self.ledger.container(page, index),
                                            parsed.unsupported_event)
                    if page.held:
                        self._try_release(page)
                elif self._links and self._link(page, line, index, push):
                    stats.links += 1
                else:
                    self._skipped(page)
                return
            stats.ecommerce += 1
            prefix = _PREFIXES.get(parsed.source, "ecommerce.")
            self._convert(page, line, index, push, parsed, prefix,
                          self.ledger.container(page, index))
        except Exception as err:  # contained: a reject, and the run goes on
            self._failed(line, index, push, err)

    def _place_compiled(self, page: PageState, line: int, index: int | None, push: Any,
                        converted: CompiledEvents) -> None:
        """A push the compiled mapping converted: what it left out counted, its events placed."""
        self.stats.ecommerce += 1
        if converted.dropped:
            self.ledger.dropped(line, self.ledger.container(page, index), converted.dropped,
                                "ecommerce.")
        self._place(page, line, index, push, self.emitter.compiled_groups(converted))

    def _failed(self, line: int, index: int | None, push: Any, err: Exception) -> None:
        """A unit that failed in a way no rule foresees: a reject with the reason and cause."""
        reason, cause = fault_of(err)
        self.ledger.reject(line, index, self.page, reason, [("", f"line {line}: {cause}", None)],
                           push)

    def _skipped(self, page: PageState) -> None:
        """A push without ecommerce (for Analytics): counted; held pushes may now have a time."""
        self.stats.skipped += 1
        if page.held:
            self._try_release(page)

    def _expand(self, line: int, index: int | None, record: Source) -> None:
        """A file-level form's record: its pages, each unit converted like a push."""
        stats = self.stats
        try:
            for page in expand(line, index, record, self.options):
                if isinstance(page, Broken):
                    self.ledger.broken(line, index, page)
                    continue
                self._start(PageStart(page.meta, ""))
                stats.pushes += page.skipped
                stats.skipped += page.skipped
                for unit in page.units:
                    self._unit(unit)
                self._end()
        except Exception as err:
            self._end()
            self._failed(line, index, _shown(record), err)

    def _unit(self, unit: Unit) -> None:
        try:
            self._read_unit(unit)
        except Exception as err:
            self._failed(unit.line, unit.index, unit, err)

    def _read_unit(self, unit: Unit) -> None:
        stats = self.stats
        stats.pushes += unit.pushes
        page = self.page
        if page is None:
            page = self.page = self._new_page(unit.line, unit.index)
        if unit.state:
            page.model.push(unit.state)
        if page.first_push is MISSING:
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
            self.ledger.invalid(page, unit.line, unit.index, unit, result, root=unit.root)
            return
        if isinstance(result, BaseException):  # what the form's reader could not foresee
            reason, cause = fault_of(result)
            self.ledger.reject(unit.line, unit.index, page, reason,
                               [("", f"line {unit.line}: {cause}", None)], unit)
            return
        self._convert(page, unit.line, unit.index, unit, result, "", unit.container)

    def _convert(self, page: PageState, line: int, index: int | None, push: Any,
                 parsed: Ecommerce, prefix: str, container: str) -> None:
        """An ecommerce push (or unit), read: its events, ids and time, emitted or held.

        Sections that failed while the others were read (``section_errors``) are rejects of
        their own; what the reader left out is counted (``dropped``, ``warnings``).
        """
        ledger = self.ledger
        if parsed.dropped:
            ledger.dropped(line, container, parsed.dropped, prefix)
        if parsed.warnings:
            ledger.warnings(line, container, parsed.warnings, prefix)
        if parsed.section_errors:
            for _, error in parsed.section_errors:
                self._section_failed(page, line, index, push, parsed.source, error)
            if not parsed.sections:
                return
        self._place(page, line, index, push, self.emitter.groups(parsed))

    def _section_failed(self, page: PageState, line: int, index: int | None, push: Any,
                        source: str, error: EcommerceError) -> None:
        """One section of a push that failed while the others converted: its own reject."""
        if type(push) is Unit:
            self.ledger.invalid(page, line, index, push, error, root=push.root)
        else:
            rooted = EcommerceError(rooted_messages(push, source, error.messages))
            self.ledger.invalid(page, line, index, push, rooted)

    def _convert_raw(self, page: PageState, line: int, index: int | None, push: Any,
                     ecommerce: Any, container: str) -> None:
        """A UA push for a mapping that reads the raw ``ecommerce`` object (``sdk-exact``): the
        events it gives; where it stops (the web SDK throws), the events sent before are kept
        and the rest of the push is a reject with the mapping's message."""
        groups, error, warnings = self.emitter.raw_groups(ecommerce)
        if warnings:
            self.ledger.warnings(line, container, warnings, "ecommerce.")
        if error is not None:
            self.ledger.invalid(page, line, index, push,
                                EcommerceError(rooted_messages(push, "ua", error.messages)))
            if not any(events for _, events in groups):
                return
        self._place(page, line, index, push, groups)

    def _link(self, page: PageState, line: int, index: int | None, push: Any) -> bool:
        """A GTM click push matching ``--link`` rules: their events, placed like any others."""
        events = link_events(self._links, push)
        if events:
            self._place(page, line, index, push, [(None, events)])
        return bool(events)

    def _place(self, page: PageState, line: int, index: int | None, push: Any,
               groups: Groups) -> None:
        """A converted push's events with its customer and time: emitted, or held until the page
        has a time."""
        try:
            ids, ids_json = self.resolver.ids(page)
            ts = self.resolver.timestamp(page)
        except Unresolved as err:
            self.ledger.reject(line, index, page, err.reason,
                               [(err.path, err.message, err.value)], push, state=True)
            return
        update = self._updater.read(page, line, index, push, self.ledger) \
            if self._updater else None
        held = Held(line, index, push, ids, ids_json, groups, update)
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

    # -- pushes waiting for the page's time --------------------------------------------------

    def _try_release(self, page: PageState) -> None:
        try:
            ts = self.resolver.timestamp(page)
        except Unresolved as err:
            while page.held:
                held = page.held.popleft()
                self.ledger.reject(held.line, held.position, page, err.reason,
                                   [(err.path, err.message, err.value)], held.push, state=True)
            return
        if ts is not None:
            self._release_held(page, ts)

    def _release_held(self, page: PageState, ts: int | None) -> None:
        """Emit held pushes at the page's first timestamp (or reject them: none came)."""
        if ts is not None and page.first_us is None:
            page.first_us = ts
        while page.held:
            held = page.held.popleft()
            if ts is None and not self.options.no_timestamp_ok:
                self._no_timestamp(page, held, "the page ended")
            else:
                self._emit(page, held, ts)

    def _overflow(self, page: PageState) -> None:
        held = page.held.popleft()
        if self.options.no_timestamp_ok:
            self._emit(page, held, None)
        else:
            self._no_timestamp(
                page, held, f"{self.options.max_held} more ecommerce pushes came (the most held)"
            )

    def _no_timestamp(self, page: PageState, held: Held, why: str) -> None:
        ts_paths = self.resolver.ts_paths
        paths = ", ".join(".".join(path) for path in ts_paths)
        push = held.push
        hint = f"{push.time_hint}, " if type(push) is Unit and push.time_hint else ""
        message = (
            f"no timestamp: none of {paths} was set before {why}; {hint}pass --timestamp "
            "PATH, or --no-timestamp-ok to let the server use its receive time"
        )
        self.ledger.reject(held.line, held.position, page, RejectReason.NO_TIMESTAMP,
                           [(".".join(ts_paths[0]), message, None)], push, state=True)

    def _emit(self, page: PageState, held: Held, ts: int | None) -> None:
        before = page.last_us
        try:
            segments = self.emitter.emit(page, held, ts)
        except ValueError as err:  # NaN or infinity, which JSON cannot carry
            reason, cause = fault_of(err)
            if reason is RejectReason.CONVERSION_FAILED:
                reason, cause = RejectReason.INVALID_ECOMMERCE, f"cannot be sent as JSON: {err}"
            self.ledger.reject(held.line, held.position, page, reason,
                               [("ecommerce", cause, None)], held.push)
            return
        except Exception as err:
            self._failed(held.line, held.position, held.push, err)
            return
        if held.update and segments and self._updater is not None:
            self.out.extend(self._updater.customers(held, before, ts))
        self.out.extend(segments)


#: Where the paths of what a reader left out start, per form read (``ecommerce.`` for UA/GA4).
_PREFIXES = {"gtag": "2.", "gtm": ""}


def _shown(record: Source) -> Any:
    """What a reject shows of a file-level record that failed as a whole (its text)."""
    data = record.data
    if isinstance(data, bytes):
        return data[:TEXT_LIMIT].decode("utf-8", "replace").rstrip("\r\n")
    if isinstance(data, tuple) and len(data) == 2:
        return [command for _, _, command in data[1]]
    return None
