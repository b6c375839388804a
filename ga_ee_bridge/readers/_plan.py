"""Compiled read plans: the UA reader's hot path, built from its schemas' own fields.

(:func:`value_lines`, the inline reading of one value, is also what GA4's plans are compiled
from: :func:`~ga_ee_bridge.readers._event_plan.event_plan`.)

A plan reads an ``ecommerce`` object the way the schemas do when nothing in it needs a warning or
an error, without marshmallow's machinery (no hooks, no per-field wrappers, no copies of what is
only read): each value goes through its field's ``_read``, the one rule of what it means, and the
model objects are made by :func:`~ga_ee_bridge.core.model.maker`. At the first thing the plan
cannot read exactly (a value to drop with a warning, an error, a flat product, a mapping that is
no ``dict``) it raises :class:`Slow` (or the field's ``ValidationError``), and the caller reads the
object again through the schemas, which give the same model, the warnings or the full error
report. Nothing is recorded on the way, so a plan that gives up leaves no trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields
from functools import cache
from types import MappingProxyType
from typing import Any, Protocol

from marshmallow import Schema

from ga_ee_bridge.core.model import KINDS, ActionField, Ecommerce, FieldObject, Section, maker
from ga_ee_bridge.core.numbers import MAX_SAFE_INTEGER, plain_number
from ga_ee_bridge.readers._fields import Count, Money, Text
from ga_ee_bridge.readers._renamed import custom_value
from ga_ee_bridge.readers._schema import blank

__all__ = [
    "MODEL",
    "Build",
    "EcommercePlan",
    "Slow",
    "code_env",
    "compile_function",
    "ecommerce_plan",
    "local_names",
    "read_code",
    "shaped_items",
    "value_lines",
]

#: ``plan(ecommerce, kinds)``: the model of a UA ``ecommerce`` dict, reading ``kinds`` only.
EcommercePlan = Callable[[dict[str, Any], tuple[str, ...]], Ecommerce]

_NO_CUSTOM: MappingProxyType[str, Any] = MappingProxyType({})
_MISSING = object()
_NO_ACTION_FIELD = ActionField()
_KNOWN_KEYS = frozenset({"currencyCode", *KINDS})
_KIND_ORDER = {kind: number for number, kind in enumerate(KINDS)}


class Slow(Exception):
    """What a plan cannot read exactly: the schemas must read the object (and say why)."""


#: The most entries of a memo (money text read, custom keys told): values and keys repeat,
#: and parsing text is what costs. At most about 2 MB when full.
_MEMO_SIZE = 16384
#: The longest text a memo keeps (prices are short; a long one is read, not kept).
_MEMO_TEXT = 40
#: The most shapes (sequences of keys) a field object's reader keeps, and the most keys and
#: characters of a shape kept: a list's objects share theirs, so a few are kept (at most about
#: 200 KB a reader), never one per object.
_SHAPE_MEMO_SIZE = 128
_SHAPE_KEYS = 64
_SHAPE_TEXT = 1024
#: The most readers compiled for shapes of one field object's reader (each a few KB of code).
_SHAPED_READERS = 32
#: Money text -> what ``Money._read`` gives, per mode: one memo for every plan's money fields.
_MONEY_MEMOS: dict[bool, dict[str, Any]] = {False: {}, True: {}}


def read_code(schema: Any, *, require_id: bool = False, shape: tuple[str, ...] | None = None
              ) -> tuple[list[str], dict[str, Any]]:
    """The body of a compiled reader of one UA field object ``obj`` (product, impression,
    promotion, actionField), from its schema's fields, and the names it uses.

    The lines (indented for a function body) leave in locals ``v0``, ``v1``... the value of each
    of the schema's keys, in ``by_key`` order (None when absent or blank), and ``custom`` and
    ``dropped`` as the schema makes them: a ``get`` per known key, the common value types read
    inline (text stripped, integers checked, money text parsed once per distinct text), every
    other value through its field's ``_read``; unknown keys are looked at only when there are
    some. ``require_id``: no id is :class:`Slow` (a purchase's or refund's actionField).

    ``shape``: the body of a reader of objects with exactly these keys, which reads each at once,
    knows the others are absent and what its unknown keys are (:func:`key_roles`). Its first
    lines hand any other object to ``generic(obj)`` (see :func:`shaped_items`).
    """
    env = code_env(schema.strict)
    env.update(unknown_keys=_unknown_keys(schema), NO_CUSTOM=_NO_CUSTOM)
    keys = list(schema._by_key)
    if shape is None:
        lines = ["    get = obj.get", "    present = 0"]
    else:
        # Every key of the shape is taken (a missing one is another shape); the unknown ones'
        # values (c...) are read again by custom_values, the known ones' (p...) below.
        taken = [f"p{keys.index(key)}" if key in schema._by_key else f"c{number}"
                 for number, key in enumerate(shape)]
        lines = [f"    if len(obj) != {len(shape)}:",
                 "        return generic(obj)",
                 "    try:",
                 f"        {', '.join(taken)}, = {', '.join(f'obj[{key!r}]' for key in shape)},",
                 "    except KeyError:  # other keys as many",
                 "        return generic(obj)"]
        if len(shape) - sum(key in schema._by_key for key in shape) > 1:
            # the same keys in another order: the custom and dropped keys keep the pushed order
            env["SHAPE"] = shape
            lines += ["    if tuple(obj) != SHAPE:", "        return generic(obj)"]
    for number, (key, (_, field)) in enumerate(schema._by_key.items()):
        if shape is None:
            lines += value_lines(number, key, field, env)
        elif key in shape:
            lines += value_lines(number, key, field, env, given=f"p{number}")
        else:
            lines.append(f"    v{number} = None")
    names = local_names(schema)
    # A value read as None was blank as pushed (anything else would have raised).
    if schema.needs_id_or_name:
        lines += [f"    if {names['id']} is None and {names['name']} is None:",
                  "        raise Slow('needs an id or a name')"]
    if require_id:
        lines += [f"    if {names['id']} is None:", "        raise Slow('needs an id')"]
    if shape is not None:
        customs, dropped = key_roles(schema, shape)
        env.update(DROPPED=dropped, CUSTOMS=customs, custom_values=custom_values,
                   STRICT=schema.strict)
        lines += ["    custom = custom_values(obj, CUSTOMS, STRICT)" if customs
                  else "    custom = NO_CUSTOM",
                  "    dropped = DROPPED"]
    else:
        lines += ["    if present == len(obj):",
                  "        custom, dropped = NO_CUSTOM, ()",
                  "    else:",
                  "        custom, dropped = unknown_keys(obj)"]
    return lines, env


def value_lines(number: int, key: str, field: Any, env: dict[str, Any], *,
                given: str | None = None) -> list[str]:
    """Lines (indented for a function body) leaving in ``v<number>`` the value of ``obj[key]``
    as ``field`` reads it (None when absent or blank), counting it in ``present``; ``value`` is
    left holding the pushed value. The common value types are read inline (text stripped,
    integers checked, money text parsed once per distinct text, money as a finite JSON number
    taken as its float), every other value through the field's ``_read``, which raises where a
    warning or an error is due. ``env`` (a :func:`read_code` environment) gets the names the
    lines use. ``given``: the local already holding the value (the key is there; not counted)."""
    env[f"read{number}"] = field._read
    target = f"v{number}"
    branches = ["        if value is None:", f"            {target} = None"]
    kind = type(field)._read
    if kind is Text._read:  # Text and Identifier: what Text._read does with text
        branches += ["        elif type(value) is str:",
                     f"            {target} = value.strip() or None"]
    elif kind is Count._read:  # what parse_int does with an int within 2**53
        branches += ["        elif type(value) is int and -LIMIT <= value <= LIMIT:",
                     f"            {target} = value"]
    elif kind is Money._read:  # plain decimal text is float(text), as parse_number reads it
        branches += ["        elif type(value) is str:",
                     f"            {target} = memo.get(value, MISSING)",
                     f"            if {target} is MISSING:",
                     f"                {target} = float(value) if plain(value) else None",
                     f"                if {target} is None or not isfinite({target}):",
                     f"                    {target} = read{number}(value)",
                     "                if len(memo) < MEMO_SIZE and len(value) <= MEMO_TEXT:",
                     f"                    memo[value] = {target}",
                     # a JSON number: parse_number's float() of it, where that is finite
                     "        elif type(value) is float and isfinite(value):",
                     f"            {target} = value",
                     "        elif type(value) is int and -LIMIT <= value <= LIMIT:",
                     f"            {target} = float(value)"]
    branches += ["        else:", f"            {target} = read{number}(value)"]
    if given is not None:
        return [f"    value = {given}", *(line[4:] for line in branches)]
    return [f"    value = get({key!r}, MISSING)",
            "    if value is MISSING:",
            f"        {target} = None",
            "    else:",
            "        present += 1",
            *branches]


def code_env(strict: bool) -> dict[str, Any]:
    """The names :func:`value_lines` uses, for a plan of mode ``strict``."""
    return {
        "MISSING": _MISSING, "Slow": Slow, "LIMIT": MAX_SAFE_INTEGER,
        "memo": _MONEY_MEMOS[bool(strict)], "MEMO_SIZE": _MEMO_SIZE, "MEMO_TEXT": _MEMO_TEXT,
        "plain": plain_number, "isfinite": math.isfinite,
    }


def local_names(schema: Any) -> dict[str, str]:
    """GA key -> the local of :func:`read_code` holding its value (``v0``, ``v1``...)."""
    return {key: f"v{number}" for number, key in enumerate(schema._by_key)}


def compile_function(name: str, lines: list[str], env: dict[str, Any]) -> Callable[..., Any]:
    """The function ``name`` whose source is ``lines`` (code built from schemas' own names)."""
    exec("\n".join(lines), env)
    function: Callable[..., Any] = env[name]
    return function


@cache
def _object_plan(schema: Any, require_id: bool = False) -> Callable[[dict[str, Any]], FieldObject]:
    """A UA field object's plan: :func:`read_code`, then the model object made from it."""
    model = schema.model
    lines, env = read_code(schema, require_id=require_id)
    env.update(new=object.__new__, cls=model, proxy=MappingProxyType)
    lines = ["def read(obj):", *lines, "    self = new(cls)"]
    given = {"raw": "proxy(dict(obj))", "custom": "custom", "dropped": "dropped",
             **local_names(schema)}
    for number, spec in enumerate(fields(model)):
        env[f"set{number}"] = getattr(model, spec.name).__set__
        value = given.get(spec.name)
        if value is None:
            env[f"default{number}"] = spec.default
            value = f"default{number}"
        lines.append(f"    set{number}(self, {value})")
    lines.append("    return self")
    read = compile_function("read", lines, env)
    read.__qualname__ = f"plan({schema.__class__.__name__})"
    return read


class Build(Protocol):
    """What a plan makes of what it reads: the model (:data:`MODEL`), or a mapping's events.

    ``item`` compiles the reader of one field object from its schema (see :func:`read_code`);
    ``section`` and ``ecommerce`` assemble what the readers gave, as the schemas' ``_build`` do.
    """

    def item(self, schema: Any, *, require_id: bool) -> Callable[[dict[str, Any]], Any]: ...

    def section(self, kind: str, action_field: Any, items: tuple[Any, ...],
                dropped: tuple[str, ...], has_products: bool) -> Any: ...

    def ecommerce(self, currency: Any, pushed_currency: Any, sections: dict[str, Any],
                  dropped_keys: tuple[str, ...]) -> Any: ...


class _ModelBuild:
    """The plan that makes the model: what the schemas' ``_build`` make."""

    def __init__(self) -> None:
        self._section = maker(Section)
        self._ecommerce = maker(Ecommerce)

    def item(self, schema: Any, *, require_id: bool) -> Callable[[dict[str, Any]], Any]:
        return _object_plan(schema, require_id)

    def section(self, kind: str, action_field: Any, items: tuple[Any, ...],
                dropped: tuple[str, ...], has_products: bool) -> Any:
        return self._section(kind, action_field or _NO_ACTION_FIELD, items, dropped,
                             has_products)

    def ecommerce(self, currency: Any, pushed_currency: Any, sections: dict[str, Any],
                  dropped_keys: tuple[str, ...]) -> Any:
        return self._ecommerce(currency, MappingProxyType(sections), pushed_currency,
                               dropped_keys, "ua", None, (), ())


#: The plan that makes the model.
MODEL: Build = _ModelBuild()


#: What the keys of an object its schema does not know are: ``((custom key, whether it is a
#: metric), ...)`` in order, and the keys dropped.
KeyRoles = tuple[tuple[tuple[str, bool], ...], tuple[str, ...]]


def key_roles(schema: Any, keys: tuple[str, ...]) -> KeyRoles:
    """:data:`KeyRoles` of an object of ``schema`` with ``keys``, as its ``_validate`` and
    ``_build`` tell them (custom dimensions and metrics kept where the schema keeps them)."""
    unknown = [key for key in keys if key not in schema._by_key]
    if not schema.keeps_custom:
        return (), tuple(unknown)
    pattern = schema.custom_key.fullmatch
    custom = tuple((key, key.startswith("metric")) for key in unknown
                   if pattern(key) is not None)
    return custom, tuple(key for key in unknown if pattern(key) is None)


def _unknown_keys(schema: Any) -> Callable[[dict[str, Any]], tuple[Any, tuple[str, ...]]]:
    """``(custom, dropped)`` of an object with keys its schema does not know, as the schema's
    ``_validate`` and ``_build`` make them (a custom value that cannot be read raises).

    Objects of one list share their keys, so what each key is (known, custom text, custom
    number, dropped) is worked out once per sequence of keys (its shape) and kept: what is left
    per object is its custom values.
    """
    strict = schema.strict
    shapes: dict[tuple[str, ...], KeyRoles] = {}

    def unknown_keys(obj: dict[str, Any]) -> tuple[Any, tuple[str, ...]]:
        keys = tuple(obj)
        shape = shapes.get(keys)
        if shape is None:
            shape = key_roles(schema, keys)
            if len(shapes) < _SHAPE_MEMO_SIZE and len(keys) <= _SHAPE_KEYS and (
                    sum(map(len, keys)) <= _SHAPE_TEXT):
                shapes[keys] = shape
        customs, dropped = shape
        return (custom_values(obj, customs, strict) if customs else _NO_CUSTOM), dropped

    return unknown_keys


def custom_values(obj: dict[str, Any], customs: tuple[tuple[str, bool], ...], strict: bool
                  ) -> Any:
    """The custom values of ``obj`` (its ``customs``, from :func:`key_roles`), blank ones left
    out, as a read-only mapping; a value that cannot be read raises (``custom_value``)."""
    custom: dict[str, Any] = {}
    for key, metric in customs:
        value = obj[key]
        if type(value) is str and not metric:  # a dimension's text: custom_value's strip
            value = value.strip()
            if value:
                custom[key] = value
        elif not blank(value):
            custom[key] = custom_value(key, value, strict=strict)
    return MappingProxyType(custom) if custom else _NO_CUSTOM


#: A field object's reader -> ``shaped(first)``: the reader for a list whose first object is
#: ``first`` (one compiled for its keys, or the reader itself). See :func:`shaped_items`.
SHAPED: dict[Callable[[dict[str, Any]], Any], Callable[[Any], Callable[[dict[str, Any]], Any]]] = {}


def shaped_items(read: Callable[[dict[str, Any]], Any],
                 shaped: Callable[[tuple[str, ...]], Callable[[dict[str, Any]], Any] | None]
                 ) -> Callable[[Any], Callable[[dict[str, Any]], Any]]:
    """Register for ``read`` the readers of lists whose objects share their keys (the objects
    of one list almost always do): ``shaped(keys)`` compiles the one of a shape (None: there is
    none), for at most :data:`_SHAPED_READERS` small shapes; the others are read by ``read``.
    Each such reader hands an object of other keys to ``read``."""
    readers: dict[tuple[str, ...], Callable[[dict[str, Any]], Any]] = {}

    def reader_for(first: Any) -> Callable[[dict[str, Any]], Any]:
        if type(first) is not dict:
            return read
        keys = tuple(first)
        found = readers.get(keys)
        if found is None:
            small = len(keys) <= _SHAPE_KEYS and sum(map(len, keys)) <= _SHAPE_TEXT
            found = (shaped(keys) if small and len(readers) < _SHAPED_READERS else None) or read
            if len(readers) < _SHAPE_MEMO_SIZE:
                readers[keys] = found
        return found

    SHAPED[read] = reader_for
    return reader_for


def _items(read: Callable[[dict[str, Any]], Any], value: Any) -> tuple[Any, ...]:
    if type(value) is not list:
        raise Slow("not a list")
    if len(value) > 2:  # (two objects gain less than choosing costs: Google's own differ)
        shaped = SHAPED.get(read)
        if shaped is not None:
            read = shaped(value[0])
    items = []
    for item in value:
        if type(item) is not dict:
            raise Slow("not an object")
        items.append(read(item))
    return tuple(items)


def _section_plan(
    schema: Any, flat: Callable[[dict[str, Any]], bool], build: Build
) -> Callable[[dict[str, Any]], Any]:
    """One section's plan (``purchase``, ``detail``, ``promoView``...) from its schema."""
    kind = schema.kind
    list_key = schema.list_key
    declared = schema.fields
    needs_id = schema.needs_id
    action = (build.item(declared["actionField"].schema, require_id=needs_id)
              if "actionField" in declared else None)
    item = build.item(declared[list_key].schema, require_id=False) if list_key else None
    products = list_key == "products"
    section = build.section

    def read(obj: dict[str, Any]) -> Any:
        if products and flat(obj):
            raise Slow("a flat product")
        action_field: Any = None
        items: tuple[Any, ...] = ()
        dropped: list[str] | None = None
        for key, value in obj.items():
            if key == "actionField" and action is not None:
                if value is not None:
                    if type(value) is not dict:
                        raise Slow("actionField is not an object")
                    action_field = action(value)
            elif key == list_key and item is not None:
                if value is not None:
                    items = _items(item, value)
            elif dropped is None:
                dropped = [key]
            else:
                dropped.append(key)
        if needs_id and action_field is None:
            raise Slow("needs an order id")
        return section(kind, action_field, items, tuple(dropped) if dropped else (),
                       bool(items) and products)

    return read


@cache
def ecommerce_plan(
    schema: Schema, *, flat: Callable[[dict[str, Any]], bool], build: Build = MODEL
) -> EcommercePlan:
    """The plan of the UA ``ecommerce`` schema ``schema`` (one per mode), built once.

    ``flat`` tells a product section that is one product itself (the schemas repair it);
    ``build`` says what the plan makes (default: the model).
    """
    declared = schema.fields
    currency = declared["currencyCode"]._read  # type: ignore[attr-defined]
    impression = build.item(declared["impressions"].schema,  # type: ignore[attr-defined]
                            require_id=False)
    sections = {
        kind: _section_plan(declared[kind].schema, flat, build)  # type: ignore[attr-defined]
        for kind in KINDS[1:]
    }
    make_section = build.section
    make = build.ecommerce

    def read(ecommerce: dict[str, Any], kinds: tuple[str, ...]) -> Any:
        pushed_currency = ecommerce.get("currencyCode")
        read_sections: dict[str, Any] = {}
        if kinds is KINDS:  # the sections present, in KINDS order (fewer lookups)
            kinds = [kind for kind in ecommerce if kind in _KIND_ORDER]  # type: ignore[assignment]
            if len(kinds) > 1:
                kinds.sort(key=_KIND_ORDER.__getitem__)  # type: ignore[attr-defined]
        for kind in kinds:
            value = ecommerce.get(kind)
            if value is None:
                continue
            if kind == "impressions":
                read_sections[kind] = make_section(kind, None, _items(impression, value), (),
                                                   False)
            elif type(value) is dict:
                read_sections[kind] = sections[kind](value)
            else:
                raise Slow("a section that is no object")
        return make(
            None if pushed_currency is None else currency(pushed_currency),
            pushed_currency,
            read_sections,
            () if _KNOWN_KEYS.issuperset(ecommerce)
            else tuple(key for key in ecommerce if key not in _KNOWN_KEYS),
        )

    return read
