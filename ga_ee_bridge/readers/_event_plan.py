"""Compiled read plans of GA4 events: the GA4 reader's hot path, built from the event schemas.

A plan reads one event's params the way the event's schema (:mod:`._events`) does when nothing
in them needs a warning or an error: each value inline or through its field's ``_read``
(:func:`~ga_ee_bridge.readers._plan.value_lines`, the lines UA's plans are made of), the items
straight into their :class:`~ga_ee_bridge.readers._events.Item` s, then the schema's own
:func:`~ga_ee_bridge.readers._events.build`. Whatever it cannot read exactly raises
:class:`~ga_ee_bridge.readers._plan.Slow` (or the field's ``ValidationError``), and the caller
loads the params through the schema, which gives the warnings or every error at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from ga_ee_bridge.core.model import PROMOTION_KINDS, Ecommerce
from ga_ee_bridge.readers._events import (
    NEEDS_ID,
    Dialect,
    Item,
    build,
    event_schema,
    item_of,
    key_of,
)
from ga_ee_bridge.readers._plan import Slow, code_env, compile_function, value_lines

__all__ = ["EventPlan", "event_plan"]

#: ``plan(params)``: the model of one event's params (see :func:`event_plan`).
EventPlan = Callable[[Mapping[str, Any]], Ecommerce]


@cache
def event_plan(dialect: Dialect, event: str, strict: bool) -> EventPlan | None:
    """The compiled reader of ``event``'s params (a ``dict``), built once per mode from the
    event's schema, or None where there is none (promotions, gtag's ``select_content``).

    It gives what the schema's load gives when nothing needs a warning or an error, without
    marshmallow's machinery; at anything else (a value to drop, a missing order id, an item that
    is no object, a role pushed under two spellings) it raises :class:`Slow` or the field's
    ``ValidationError``, and the caller loads the params through the schema, which says why.
    """
    spec = dialect.events[event]
    if spec.kind_of is not None or spec.kind in PROMOTION_KINDS or dialect.promotion_keys:
        return None
    schema: Any = event_schema(dialect, event, strict)
    read_item = _item_plan(schema._by_key["items"][1].schema)
    if read_item is None:
        return None
    reads = {key: field._read for key, (_, field) in schema._by_key.items() if key != "items"}
    order_key = key_of(dialect.param_keys, "id") if spec.kind in NEEDS_ID else None
    kind = spec.kind

    def read(params: Mapping[str, Any]) -> Ecommerce:
        if type(params) is not dict:
            raise Slow("not a dict")
        loaded: dict[str, Any] = {}
        for key, value in params.items():
            if key == "items":
                if value is not None:
                    if type(value) is not list:
                        raise Slow("items is not a list")
                    value = tuple([_object(read_item, obj) for obj in value])
                loaded[key] = value
                continue
            read_value = reads.get(key)
            if read_value is not None:
                loaded[key] = None if value is None else read_value(value)
        if order_key is not None and loaded.get(order_key) is None:
            raise Slow("needs an order id")
        return build(dialect, event, spec, kind, loaded, params)

    read.__qualname__ = f"plan({schema.__class__.__name__})"
    return read


def _object(read: Callable[[dict[str, Any]], Item], obj: Any) -> Item:
    if type(obj) is not dict:
        raise Slow("an item that is no object")
    return read(obj)


@cache
def _item_plan(schema: Any) -> Callable[[dict[str, Any]], Item] | None:
    """The compiled reader of one item, from its schema's fields (:func:`value_lines`), or None
    when an id key shares its role with another key (the schema then decides)."""
    table = schema.roles
    spellings: dict[str, int] = {}
    for role, _ in table.values():
        spellings[role] = spellings.get(role, 0) + 1
    id_roles = [table[key][0] for key in schema.id_keys]
    if any(spellings[role] > 1 for role in id_roles):
        return None
    env = code_env(schema.strict)
    env.update(finish=item_of, TABLE=table, OFFSET=schema.position_offset)
    lines = ["def read(obj):", "    get = obj.get", "    present = 0",
             "    values = {}", "    raw = {}", "    keys = {}"]
    for number, (key, (_, spec)) in enumerate(schema._by_key.items()):
        role = table[key][0]
        lines += value_lines(number, key, spec, env)
        lines.append(f"    if v{number} is not None:")
        if role == "position" and schema.position_offset:
            lines += [f"        if v{number} < 0:", "            raise Slow('a negative index')"]
        if spellings[role] > 1:  # the schema tells which spelling wins, and drops the other
            lines += [f"        if {role!r} in values:",
                      "            raise Slow('a role pushed twice')"]
        lines += [f"        values[{role!r}] = v{number}", f"        raw[{role!r}] = value",
                  f"        keys[{role!r}] = {key!r}"]
    if id_roles:
        lines += ["    if " + " and ".join(f"{role!r} not in values" for role in id_roles) + ":",
                  "        raise Slow('needs an id or a name')"]
    lines.append("    return finish(TABLE, OFFSET, values, raw, keys, obj)")
    read = compile_function("read", lines, env)
    read.__qualname__ = f"plan({schema.__class__.__name__})"
    return read
