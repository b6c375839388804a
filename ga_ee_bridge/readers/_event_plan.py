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

__all__ = ["EventPlan", "event_plan", "item_lines", "params_loader"]

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
    load = params_loader(dialect, schema, spec.kind)
    kind = spec.kind

    def items_of(value: list[Any]) -> tuple[Item, ...]:
        return tuple([_object(read_item, obj) for obj in value])

    def read(params: Mapping[str, Any]) -> Ecommerce:
        return build(dialect, event, spec, kind, load(params, items_of), params)

    read.__qualname__ = f"plan({schema.__class__.__name__})"
    return read


def params_loader(dialect: Dialect, schema: Any, kind: str
                  ) -> Callable[[Any, Callable[[list[Any]], Any]], dict[str, Any]]:
    """``load(params, items)``: an event's params loaded as its schema loads them when nothing
    needs a warning or an error, each value through its field's ``_read`` and the ``items``
    list through ``items``; :class:`Slow` for what the schema must say (params that are no
    ``dict``, items that are no list, a purchase or refund without its order id)."""
    reads = {key: field._read for key, (_, field) in schema._by_key.items() if key != "items"}
    order_key = key_of(dialect.param_keys, "id") if kind in NEEDS_ID else None

    def load(params: Any, items: Callable[[list[Any]], Any]) -> dict[str, Any]:
        if type(params) is not dict:
            raise Slow("not a dict")
        loaded: dict[str, Any] = {}
        for key, value in params.items():
            if key == "items":
                if value is not None:
                    if type(value) is not list:
                        raise Slow("items is not a list")
                    value = items(value)
                loaded[key] = value
                continue
            read_value = reads.get(key)
            if read_value is not None:
                loaded[key] = None if value is None else read_value(value)
        if order_key is not None and loaded.get(order_key) is None:
            raise Slow("needs an order id")
        return loaded

    return load


def _object(read: Callable[[dict[str, Any]], Item], obj: Any) -> Item:
    if type(obj) is not dict:
        raise Slow("an item that is no object")
    return read(obj)


@cache
def _item_plan(schema: Any) -> Callable[[dict[str, Any]], Item] | None:
    """The compiled reader of one item, from its schema's fields (:func:`item_lines`), or None
    when an id key shares its role with another key (the schema then decides)."""
    env = code_env(schema.strict)
    env.update(finish=item_of, TABLE=schema.roles, OFFSET=schema.position_offset)

    def store(number: int, key: str, role: str) -> list[str]:  # values, raw, keys by role
        return [f"        values[{role!r}] = v{number}", f"        raw[{role!r}] = value",
                f"        keys[{role!r}] = {key!r}"]

    body = item_lines(schema, env, is_set=lambda role: f"{role!r} in values", store=store)
    if body is None:
        return None
    lines = ["def read(obj):", "    get = obj.get", "    present = 0", "    values = {}",
             "    raw = {}", "    keys = {}", *body,
             "    return finish(TABLE, OFFSET, values, raw, keys, obj)"]
    read = compile_function("read", lines, env)
    read.__qualname__ = f"plan({schema.__class__.__name__})"
    return read


def item_lines(schema: Any, env: dict[str, Any], *, is_set: Callable[[str], str],
               store: Callable[[int, str, str], list[str]]) -> list[str] | None:
    """The lines (a function body, ``get = obj.get`` and ``present`` set before them) that read
    one item as its schema does when nothing needs a warning or an error: each key's value
    (:func:`value_lines`), then ``store(number, key, role)``'s lines for a value that is not None.
    A negative index, a role pushed under two spellings (``is_set(role)``: the expression telling
    that a role has a value) and an item with neither id key raise :class:`Slow`. None when an id
    key shares its role with another key (the schema then decides which one wins)."""
    table = schema.roles
    spellings: dict[str, int] = {}
    for role, _ in table.values():
        spellings[role] = spellings.get(role, 0) + 1
    id_roles = [table[key][0] for key in schema.id_keys]
    if any(spellings[role] > 1 for role in id_roles):
        return None
    lines: list[str] = []
    for number, (key, (_, spec)) in enumerate(schema._by_key.items()):
        role = table[key][0]
        lines += value_lines(number, key, spec, env)
        lines.append(f"    if v{number} is not None:")
        if role == "position" and schema.position_offset:
            lines += [f"        if v{number} < 0:", "            raise Slow('a negative index')"]
        if spellings[role] > 1:  # the schema tells which spelling wins, and drops the other
            lines += [f"        if {is_set(role)}:",
                      "            raise Slow('a role pushed twice')"]
        lines += store(number, key, role)
    if id_roles:
        lines += ["    if " + " and ".join(f"not ({is_set(role)})" for role in id_roles) + ":",
                  "        raise Slow('needs an id or a name')"]
    return lines
