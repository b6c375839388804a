"""From a read push to encoded events: the mapping's events, grouped for the duplicate check,
stamped with the page's time (the one tie rule) and the page's default properties, then encoded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ga_ee_bridge.convert.encoders import SPLIT_ENCODERS, Encoder
from ga_ee_bridge.convert.options import ConvertOptions
from ga_ee_bridge.convert.page import Held, PageState
from ga_ee_bridge.convert.results import (
    Segment,
)
from ga_ee_bridge.core.model import Ecommerce
from ga_ee_bridge.core.timestamps import next_stamp_texts
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.mappings import get_mapping, resolve_kinds
from ga_ee_bridge.mappings.compiled import CompiledEvents, SplitEvent, compile_ua
from ga_ee_bridge.mappings.compiled_ga4 import compile_ga4
from ga_ee_bridge.mappings.taxonomy import TaxonomyMapping

__all__ = ["Emitter", "Groups"]


def _raw_transaction(ecommerce: dict[str, Any]) -> str | None:
    """The transaction id of a raw purchase section, as text (None when it has none: such
    purchases are never duplicates of each other)."""
    section = ecommerce.get("purchase")
    action = section.get("actionField") if type(section) is dict else None
    value = action.get("id") if type(action) is dict else None
    if value is None or value == "" or value is False:
        return None
    return value if type(value) is str else str(value)

#: A push's events in groups: ``(transaction id, events)`` for its purchase, ``(None, events)``
#: for the sections before and after it, so that a duplicate purchase drops its own events only.
Groups = list[tuple[str | None, list[Any]]]


class Emitter:
    """Maps read pushes to events and encodes them with their customer and time."""

    def __init__(self, options: ConvertOptions, encode: Encoder):
        self.encode = encode
        self.kinds = resolve_kinds(options.kind)
        self._kind_set = frozenset(self.kinds)
        self.mapping = get_mapping(options.mapping)
        self.tracked_via = options.tracked_via or self.mapping.tracked_via
        self.dedup = not options.keep_duplicates and "purchase" in self.kinds
        #: The mapping reads a UA push's raw ``ecommerce`` object itself (``sdk-exact``).
        self.raw = bool(getattr(self.mapping, "reads_raw", False))
        #: ``compiled(ecommerce_dict)``: the mapping's events of a UA object without the model
        #: (None: the mapping cannot be compiled; it gives None where the model must be read).
        self.compiled = None if self.raw else compile_ua(
            self.mapping, tracked_via=self.tracked_via, strict=options.strict, split=True
        )
        #: ``compiled_ga4(event_name, params)``: the same for GA4 events (None: not compiled).
        self.compiled_ga4 = None if self.raw else compile_ga4(
            self.mapping, tracked_via=self.tracked_via, strict=options.strict
        )
        #: The encoder's variant for :class:`SplitEvent` s (None: they are merged for it).
        self.split = SPLIT_ENCODERS.get(encode)
        #: The model's events come in parts too (a taxonomy mapping, an encoder that joins them).
        self._split_model = self.split is not None and isinstance(self.mapping, TaxonomyMapping)

    def raw_groups(self, ecommerce: Any) -> tuple[Groups, EcommerceError | None, tuple[Any, ...]]:
        """The events of a raw UA ``ecommerce`` object (:attr:`raw` mappings), grouped as
        :meth:`groups` does; the error that stopped them (the events before it are kept, the
        sections after it are not read, as in the web SDK) and the mapping's warnings."""
        kinds = self.kinds
        parts: list[tuple[str | None, tuple[str, ...]]] = [(None, kinds)]
        if self.dedup and type(ecommerce) is dict and "purchase" in ecommerce:
            at = kinds.index("purchase")
            before, after = kinds[:at], kinds[at + 1:]
            parts = [(_raw_transaction(ecommerce), ("purchase",))]
            if any(kind in ecommerce for kind in before):
                parts.insert(0, (None, before))
            if any(kind in ecommerce for kind in after):
                parts.append((None, after))
        groups: Groups = []
        warnings: list[Any] = []
        events_raw = self.mapping.events_raw  # type: ignore[attr-defined]
        for transaction, part in parts:
            try:
                events = events_raw(ecommerce, part, tracked_via=self.tracked_via)
            except EcommerceError as err:
                sent = list(getattr(err, "events", ()))
                if sent:
                    groups.append((transaction, sent))
                return groups, err, tuple(warnings)
            warnings.extend(getattr(events, "warnings", ()))
            groups.append((transaction, list(events)))
        return groups, None, tuple(warnings)

    def groups(self, parsed: Ecommerce) -> Groups:
        """The mapping's events of ``parsed``, the purchase's in a group of their own."""
        mapping, tracked_via = self.mapping, self.tracked_via
        purchase = parsed.sections.get("purchase")
        events_of: Callable[[tuple[str, ...]], list[Any]]
        if self._split_model:
            taxonomy: Any = mapping
            events_of = lambda kinds: taxonomy.events(  # noqa: E731
                parsed, kinds, tracked_via=tracked_via, split=True)
        else:
            events_of = lambda kinds: mapping.events(  # noqa: E731
                parsed, kinds, tracked_via=tracked_via)
        return self._grouped(
            parsed.sections, purchase.action_field.id if purchase is not None else None,
            events_of)

    def compiled_groups(self, compiled: CompiledEvents) -> Groups:
        """:meth:`groups` of a UA object (or GA4 event) the compiled mapping converted."""
        events = compiled.events
        if len(events) == 1 and not (self.dedup and "purchase" in events):  # the usual push
            ((kind, found),) = events.items()
            return [(None, list(found) if kind in self._kind_set else [])]
        return self._grouped(
            events, compiled.transaction,
            lambda kinds: [event for kind in kinds if kind in events for event in events[kind]],
        )

    def _grouped(self, present: Mapping[str, Any], transaction: str | None,
                 events_of: Callable[[tuple[str, ...]], list[Any]]) -> Groups:
        """The one grouping rule: with the duplicate check, the purchase's events (under its
        transaction id) apart from the sections before and after it; ``events_of(kinds)``."""
        kinds = self.kinds
        if self.dedup and "purchase" in present:
            at = kinds.index("purchase")
            before, after = kinds[:at], kinds[at + 1:]
            groups: Groups = []
            if any(kind in present for kind in before):
                groups.append((None, events_of(before)))
            groups.append((transaction or "", events_of(("purchase",))))
            if any(kind in present for kind in after):
                groups.append((None, events_of(after)))
            return groups
        return [(None, events_of(kinds))]

    def emit(self, page: PageState, held: Held, ts: int | None) -> list[Segment]:
        """The encoded segments of ``held`` at time ``ts`` (None: the server's receive time).

        Each event gets a time strictly after the page's last one; the page's clock moves on only
        when every event encoded (``ValueError`` for what JSON cannot carry: NaN, infinity).
        """
        encode = self.encode
        defaults = page.defaults
        split = None if defaults else self.split
        ids, ids_json = held.ids, held.ids_json
        last = page.last_us
        segments = []
        for transaction, events in held.groups:
            if not events:
                continue
            if ts is None:
                stamps: list[str] | list[None] = [None] * len(events)
            else:
                stamps, last = next_stamp_texts(last, ts, len(events))
            encoded = []
            for event, stamp in zip(events, stamps, strict=True):
                if split is not None and type(event) is SplitEvent:
                    encoded.append((event.event_type,
                                    split(ids, ids_json, event.event_type, stamp, event)))
                    continue
                properties = event.properties_dict()
                if defaults:
                    for key, value in defaults.items():
                        properties.setdefault(key, value)
                encoded.append(
                    (event.event_type, encode(ids, ids_json, event.event_type, stamp, properties))
                )
            segments.append(Segment(transaction, encoded))
        page.last_us = last
        return segments
