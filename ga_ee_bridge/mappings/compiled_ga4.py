"""The taxonomy mapping compiled with the GA4 reader's plans: event name and params -> events.

For the converter's hot path, as :mod:`.compiled` is for UA: a mapping that reads the typed values
(``sdk``) gives, for a GA4 event whose params the event's plan can read, the very events and
dropped paths that reading the model and mapping it give, without the items, products and
sections in between: each item's values go from the compiled reader (the GA4 plans' own lines,
:func:`~ga_ee_bridge.readers._event_plan.item_lines`, and their params loader) straight into its
event's properties, and the event-level rules are the reader's own
(:func:`~ga_ee_bridge.readers._events.keys_read`,
:func:`~ga_ee_bridge.readers._events.action_field_of`,
:func:`~ga_ee_bridge.readers._events.unused_keys`). What a plan cannot read exactly gives None,
and the caller takes the model's path (tests/mappings/test_compiled_ga4.py compares the two).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from marshmallow import ValidationError

from ga_ee_bridge.mappings.compiled import CompiledEvents
from ga_ee_bridge.mappings.taxonomy import (
    ACTION_FIELD_PROPERTIES,
    ITEM_PROPERTIES,
    REFUND_TYPE,
    SECTION_EVENTS,
    Shared,
    SplitEvent,
    TaxonomyMapping,
    copier,
    typed,
    typed_currency,
)
from ga_ee_bridge.readers import ga4
from ga_ee_bridge.readers._event_plan import item_lines, params_loader
from ga_ee_bridge.readers._events import (
    CATEGORY_LEVELS,
    IMPRESSION_USED,
    LIST_KINDS,
    PRODUCT_LIST_USED,
    PRODUCT_USED,
    Dialect,
    action_field_of,
    event_schema,
    keys_read,
    list_paths,
    read_roles,
    unused_keys,
)
from ga_ee_bridge.readers._plan import Slow, code_env, compile_function

__all__ = ["CompiledGA4", "compile_ga4"]

#: ``events(event_name, params)``: the events of a GA4 event, or None where its plan gives up.
CompiledGA4 = Callable[[str, Any], CompiledEvents | None]

#: The section kinds compiled here (promotions and checkout options take the model's path).
_KINDS = frozenset({"impressions", "click", "detail", "add", "remove", "checkout", "purchase",
                    "refund"})


def compile_ga4(mapping: Any, *, tracked_via: str, strict: bool) -> CompiledGA4 | None:
    """``events(event_name, params)`` of ``mapping`` for GA4 dataLayer events (split events,
    for the converter), or None when the mapping cannot be compiled (it must be a
    :class:`TaxonomyMapping` reading typed values). ``events`` gives None for an event it does
    not compile and where the plan gives up (read the model then: it says why)."""
    if not (
        isinstance(mapping, TaxonomyMapping)
        and mapping.read is typed
        and mapping.currency is typed_currency
    ):
        return None
    return _compiled(mapping, tracked_via, strict)


@cache
def _compiled(mapping: TaxonomyMapping, tracked_via: str, strict: bool) -> CompiledGA4:
    # One per mapping, as for UA (GA4 items carry no custom values: keep_custom changes nothing).
    plans: dict[str, Callable[[dict[str, Any]], CompiledEvents] | None] = {}

    def events(event: str, params: Any) -> CompiledEvents | None:
        plan = plans.get(event, _UNKNOWN)
        if plan is _UNKNOWN:
            plan = plans[event] = _event_plan(ga4.GA4, event, strict, tracked_via)
        if plan is None or type(params) is not dict:
            return None
        try:
            return plan(params)
        except (Slow, ValidationError):
            return None

    return events


_UNKNOWN: Any = object()
#: One item read: its properties, its list name, role -> the key read.
_ItemRead = tuple[dict[str, Any], Any, dict[str, str]]


def _event_plan(dialect: Dialect, event: str, strict: bool, tracked_via: str
                ) -> Callable[[dict[str, Any]], CompiledEvents] | None:
    """The compiled events of one GA4 event name, or None where the model's path is the only one
    (an unknown event, promotions, a checkout option, a kind chosen by the params)."""
    spec = dialect.events.get(event)
    if (spec is None or spec.kind_of is not None or spec.kind not in _KINDS
            or dialect.promotion_keys):
        return None
    kind = spec.kind
    schema: Any = event_schema(dialect, event, strict)
    item_schema = schema._by_key["items"][1].schema
    read_item = _item_plan(item_schema, kind)
    if read_item is None:
        return None
    load = params_loader(dialect, schema, kind)
    used = keys_read(dialect, spec, kind)
    param_keys, table = dialect.param_keys, item_schema.roles
    item_event, summary_event = SECTION_EVENTS[kind]  # (every kind here has an item event)
    assert item_event is not None
    copy_action = copier(ACTION_FIELD_PROPERTIES, typed)
    impressions = kind == "impressions"
    listed = kind in LIST_KINDS

    def plan(params: dict[str, Any]) -> CompiledEvents:
        loaded = load(params, _dicts)
        pushed_items: list[dict[str, Any]] = loaded.get("items") or []
        values, raw, _ = read_roles(param_keys, loaded, params)
        event_list = values.get("list")
        read = [read_item(obj, event_list) for obj in pushed_items]
        base: dict[str, Any] = {"tracked_via": tracked_via}
        currency = values.get("currency")
        if currency is not None:
            base["currency_code"] = currency
        transaction = None
        chosen = None
        if not impressions:
            first_list = next((found[1] for found in read if found[1] is not None), None) \
                if listed and not event_list else None
            action_field, chosen = action_field_of(dialect, spec, kind, values, raw, first_list)
            copy_action(base, action_field)
            if kind == "purchase":
                transaction = action_field.id
        paths = [key for key in params if key not in used]
        roles = IMPRESSION_USED if impressions else PRODUCT_USED
        made: list[Any] = []
        shared = Shared(base)
        for index, (own, item_list, keys) in enumerate(read):
            obj = pushed_items[index]
            unused = unused_keys(table, keys, obj, roles)
            if chosen is not None and item_list == chosen:
                unused = unused_keys(table, keys, obj, PRODUCT_LIST_USED)
            if unused:
                paths.extend(list_paths("items", index, unused))
            if base.keys().isdisjoint(own):
                made.append(SplitEvent(item_event, shared, own))
            else:  # a shared key keeps its place, the item's value
                made.append(SplitEvent(item_event, Shared(base | own), None))
        if summary_event is not None:
            if kind == "refund":  # a dict of its own: the items' shared one stays as it is
                shared = Shared({**base, REFUND_TYPE: "partial" if read else "full"})
            made.append(SplitEvent(summary_event, shared, None))
        return CompiledEvents({kind: made}, transaction, tuple(paths))

    plan.__qualname__ = f"compiled_ga4({event})"
    return plan


def _dicts(items: list[Any]) -> list[dict[str, Any]]:
    """The items as pushed, when every one is an object (else the model's path says why)."""
    for obj in items:
        if type(obj) is not dict:
            raise Slow("an item that is no object")
    return items


@cache
def _item_plan(schema: Any, kind: str) -> Callable[..., _ItemRead] | None:
    """``read(obj, event_list) -> (properties, list, keys)``: one item's event properties in the
    table's order (its category levels joined, its index made 1-based, an impression's list
    the event's where it has none), its own list name, and role -> the key read; or None when an
    id key shares its role with another key (the model's path decides)."""
    env = code_env(schema.strict)
    roles = list(dict.fromkeys(role for role, _ in schema.roles.values()))

    def store(number: int, key: str, role: str) -> list[str]:  # a local per role
        return [f"        r_{role} = v{number}", f"        keys[{role!r}] = {key!r}"]

    body = item_lines(schema, env, is_set=lambda role: f"r_{role} is not None", store=store)
    if body is None:
        return None
    lines = ["def read(obj, event_list):", "    get = obj.get", "    present = 0",
             "    keys = {}", *[f"    r_{role} = None" for role in roles], *body]
    if "position" in roles and schema.position_offset:
        lines += ["    if r_position is not None:",
                  f"        r_position += {int(schema.position_offset)}"]
    levels = [level for level in CATEGORY_LEVELS if level in roles]
    if len(levels) > 1:
        lines += [f"    levels = [level for level in ({', '.join(f'r_{x}' for x in levels)},) "
                  "if level is not None]",
                  "    r_category = '/'.join(levels) if levels else None"]
    lines.append("    own = {}")
    for role, name in ITEM_PROPERTIES[kind]:
        if role not in roles:
            continue
        value = f"r_{role}"
        if role == "list" and kind == "impressions":  # the item's list, else the event's
            lines.append("    shown_list = r_list if r_list is not None else event_list")
            value = "shown_list"
        lines += [f"    if {value} is not None:", f"        own[{name!r}] = {value}"]
    lines.append(f"    return own, {'r_list' if 'list' in roles else 'None'}, keys")
    read = compile_function("read", lines, env)
    read.__qualname__ = f"compiled_ga4({schema.__class__.__name__}, {kind})"
    return read
