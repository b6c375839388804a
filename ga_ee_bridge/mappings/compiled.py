"""A taxonomy mapping compiled with the UA reader's plan: ``ecommerce`` dict -> events at once.

For the converter's hot path. A mapping that reads the typed values (``sdk``) gives, for a UA
``ecommerce`` object the reader's plan can read, the very events and dropped paths that reading the
model and mapping it give, without making the model objects in between: each field object's
values go from the plan's compiled reader (:func:`~ga_ee_bridge.readers._plan.read_code`) straight
into the properties of the mapping's tables. What the plan cannot read exactly gives None, and the
caller takes the model's path (tests/mappings/test_compiled.py compares the two).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import MappingProxyType
from typing import Any, NamedTuple

from marshmallow import ValidationError

from ga_ee_bridge.core.events import TrackEvent
from ga_ee_bridge.core.model import (
    KINDS,
    ActionField,
    Impression,
    Product,
    Promotion,
    item_path,
    maker,
)
from ga_ee_bridge.mappings.taxonomy import (
    ACTION_FIELD_PROPERTIES,
    IMPRESSION_PROPERTIES,
    MAX_PROPERTIES,
    PRODUCT_PROPERTIES,
    PROMOTION_PROPERTIES,
    REFUND_TYPE,
    SECTION_EVENTS,
    Shared,
    SplitEvent,
    TaxonomyMapping,
    typed,
    typed_currency,
)
from ga_ee_bridge.readers import ua
from ga_ee_bridge.readers._plan import (
    Slow,
    compile_function,
    ecommerce_plan,
    local_names,
    read_code,
    shaped_items,
)

__all__ = ["Compiled", "CompiledEvents", "Shared", "SplitEvent", "compile_ua"]

#: The property table of each field object's model.
_TABLES: dict[type, tuple[tuple[str, str], ...]] = {
    Product: PRODUCT_PROPERTIES,
    Impression: IMPRESSION_PROPERTIES,
    Promotion: PROMOTION_PROPERTIES,
    ActionField: ACTION_FIELD_PROPERTIES,
}
_event = maker(TrackEvent)


class CompiledEvents(NamedTuple):
    """The events of one UA ``ecommerce`` object, as the model's path gives them."""

    #: kind -> its events (one per item, then the summary), for the sections present, in order.
    events: dict[str, list[TrackEvent]]
    #: The purchase's ``actionField.id`` (None without a purchase).
    transaction: str | None
    #: What the reader left out, as :attr:`~ga_ee_bridge.core.model.Ecommerce.dropped` says it.
    dropped: tuple[str, ...]


class _EventsBuild:
    """What the plan makes for a mapping: properties per field object, events per section."""

    def __init__(self, mapping: TaxonomyMapping, tracked_via: str, split: bool = False):
        self.keep_custom = mapping.keep_custom
        self.tracked_via = tracked_via
        self.split = split
        self._items: dict[tuple[Any, bool], Callable[[dict[str, Any]], Any]] = {}

    def item(self, schema: Any, *, require_id: bool) -> Callable[[dict[str, Any]], Any]:
        """``read(obj) -> (properties, dropped keys, id)``: the table's properties in table
        order (None left out), then the custom ones (one reader per schema and ``require_id``:
        the sections share their actionField's and products' schemas)."""
        key = (schema, require_id)
        if key not in self._items:
            self._items[key] = self._item(schema, require_id)
        return self._items[key]

    def _item(self, schema: Any, require_id: bool) -> Callable[[dict[str, Any]], Any]:
        read = self._compile(schema, require_id, None, None)

        def shaped(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], Any] | None:
            if not all(type(key) is str for key in keys):
                return None
            return self._compile(schema, require_id, keys, read)

        shaped_items(read, shaped)
        return read

    def _compile(self, schema: Any, require_id: bool, shape: tuple[str, ...] | None,
                 generic: Callable[[dict[str, Any]], Any] | None
                 ) -> Callable[[dict[str, Any]], Any]:
        """The reader of ``schema``'s objects (of keys ``shape`` only, others to ``generic``)."""
        lines, env = read_code(schema, require_id=require_id, shape=shape)
        env["generic"] = generic
        names = local_names(schema)
        lines = ["def read(obj):", *lines, "    properties = {}"]
        for key, name in _TABLES[schema.model]:
            # (a key the model has but UA's schema has not, or the shape has not, is None)
            if key in names and (shape is None or key in shape):
                lines += [f"    if {names[key]} is not None:",
                          f"        properties[{name!r}] = {names[key]}"]
        if self.keep_custom:
            lines += ["    if custom:", "        properties.update(custom)"]
        lines.append(f"    return properties, dropped, {names['id']}")
        read = compile_function("read", lines, env)
        kind = "compiled" if shape is None else f"compiled{list(shape)}"
        read.__qualname__ = f"{kind}({schema.__class__.__name__})"
        return read

    def section(self, kind: str, action_field: Any, items: tuple[Any, ...],
                dropped: tuple[str, ...], has_products: bool) -> Any:
        return kind, action_field, items, dropped, has_products

    def ecommerce(self, currency: Any, pushed_currency: Any, sections: dict[str, Any],
                  dropped_keys: tuple[str, ...]) -> CompiledEvents:
        events: dict[str, list[TrackEvent]] = {}
        paths = list(dropped_keys)
        transaction = None
        proxy = MappingProxyType
        split = self.split
        split_event = SplitEvent
        for kind, action_field, items, dropped, has_products in sections.values():
            if dropped:
                paths.extend(f"{kind}.{key}" for key in dropped)
            base: dict[str, Any] = {"tracked_via": self.tracked_via}
            if currency is not None:
                base["currency_code"] = currency
            if action_field is not None:
                action_properties, action_dropped, order_id = action_field
                base.update(action_properties)
                if action_dropped:
                    paths.extend(f"{kind}.actionField.{key}" for key in action_dropped)
                if kind == "purchase":
                    transaction = order_id
            item_event, summary_event = SECTION_EVENTS[kind]
            made: list[Any] = []
            shared = Shared(base) if split else None
            for index, (properties, item_dropped, _) in enumerate(items):
                if item_dropped:
                    prefix = item_path(kind, index)
                    paths.extend(f"{prefix}.{key}" for key in item_dropped)
                if item_event is None:
                    continue
                if shared is not None and base.keys().isdisjoint(properties):
                    if len(base) + len(properties) > MAX_PROPERTIES:
                        raise Slow("too many properties")  # the model's path says so
                    made.append(split_event(item_event, shared, properties))
                    continue
                properties = base | properties  # base first; a shared key keeps its place
                if len(properties) > MAX_PROPERTIES:
                    raise Slow("too many properties")
                made.append(split_event(item_event, Shared(properties), None) if split
                            else _event(item_event, proxy(properties), None))
            if summary_event is not None:
                if kind == "refund":  # a dict of its own: the items' shared one stays as it is
                    base = {**base, REFUND_TYPE: "partial" if has_products else "full"}
                    shared = Shared(base) if split else None
                made.append(split_event(summary_event, shared, None) if shared is not None
                            else _event(summary_event, proxy(base), None))
            events[kind] = made
        return CompiledEvents(events, transaction, tuple(paths))


#: ``events(ecommerce_dict, kinds=KINDS)``: the events of the sections of ``kinds`` (the only
#: ones read, in KINDS order), or None where the reader's plan gives up.
Compiled = Callable[..., CompiledEvents | None]


def compile_ua(mapping: Any, *, tracked_via: str, strict: bool,
               split: bool = False) -> Compiled | None:
    """``events(ecommerce_dict, kinds=KINDS)`` of ``mapping`` for UA objects, or None when the
    mapping cannot be compiled (it must be a :class:`TaxonomyMapping` reading typed values).
    ``events`` gives None where the reader's plan gives up (read the model then: it has the
    warnings or the errors). ``split``: :class:`SplitEvent` s instead of :class:`TrackEvent` s
    (for the converter, whose encoders join the parts).
    """
    if not (
        isinstance(mapping, TaxonomyMapping)
        and mapping.read is typed
        and mapping.currency is typed_currency
    ):
        return None
    return _compiled(mapping, tracked_via, strict, split)


@cache
def _compiled(mapping: TaxonomyMapping, tracked_via: str, strict: bool, split: bool) -> Compiled:
    plan = ecommerce_plan(ua.schema(strict), flat=ua.is_flat_product,
                          build=_EventsBuild(mapping, tracked_via, split))

    def events(ecommerce: dict[str, Any], kinds: tuple[str, ...] = KINDS) -> CompiledEvents | None:
        try:
            result: CompiledEvents = plan(ecommerce, kinds)  # type: ignore[assignment]
        except (Slow, ValidationError):
            return None
        return result

    return events
