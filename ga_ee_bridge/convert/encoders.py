"""How one converted event is serialised, per output format, where the work is done (workers).

An encoder turns ``(customer_ids, event_type, timestamp, properties)`` into what its writer needs:
a Tracking API command line (``commands``), a spool line plus its column names (``csv``), the
command as a dict (``dict``, for the library) or nothing at all (``none``, for ``validate``).
Encoders are looked up by name so that worker processes get them without pickling functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ga_ee_bridge.core.events import EVENT_COMMAND

__all__ = ["ENCODERS", "SPLIT_ENCODERS", "Encoder", "dumps", "object_json"]


def _refuse(value: Any) -> Any:
    raise TypeError(f"not JSON: {value!r}")


def _make_dumps() -> Callable[[Any], str]:
    """``json.dumps`` (same separators, ASCII) refusing NaN and infinities, built once.

    ``JSONEncoder.encode`` builds its C encoder on every call; for millions of small objects
    building it once halves the cost. Falls back to ``encode`` without the C accelerator.
    """
    encoder = json.JSONEncoder(allow_nan=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    # markers=None: no cycle check (decoded JSON has no cycles).
    iterencode = make(None, _refuse, json.encoder.encode_basestring_ascii, None, ": ", ", ",
                      False, False, False)
    join = "".join

    def dumps(value: Any) -> str:
        return join(iterencode(value, 0))

    # Pickled by reference, as the module-level ``dumps`` it becomes (engines pickle functions).
    dumps.__qualname__ = "dumps"
    return dumps


#: ``json.dumps`` refusing NaN and infinities, which the Tracking API cannot read.
dumps = _make_dumps()

#: The code of each shape of keys encoded so far (bounded: the keys are the shop's; about 5 KB
#: each). A shape whose values later have other types than its first object's gets ``dumps``.
_SHAPES: dict[tuple[str, ...], Callable[[dict[str, Any], str], str]] = {}
_MAX_SHAPES = 256
#: How :func:`_shape_encoder` writes a value of each type (``@``: the value) and checks that a
#: later value in its place has that type too. json writes ``float.__repr__`` and ``str`` of an
#: int; NaN and infinities fail the check, so ``dumps`` refuses them as before. Other values
#: (lists, objects) are written by ``dumps``.
_WRITE = {
    str: ("{esc(@)}", "type(@) is str"),
    float: ("{@!r}", "type(@) is float and -inf < @ < inf"),
    int: ("{@}", "type(@) is int"),
    bool: ("{'true' if @ else 'false'}", "type(@) is bool"),
    type(None): ("null", "@ is None"),
}
_ANY = ("{dumps(@)}", "")


def object_json(value: dict[str, Any], head: str = "{") -> str:
    """``dumps(value)`` of a dict with its ``{`` replaced by ``head`` (``""``: the text to join
    on after other properties). The same text, faster for the flat objects a converter writes
    millions of (events' properties, items): each shape of keys gets code of its own."""
    keys = tuple(value)
    encode = _SHAPES.get(keys)
    if encode is None:
        if not value or len(_SHAPES) >= _MAX_SHAPES or any(type(key) is not str for key in keys):
            return head + dumps(value)[1:]
        encode = _SHAPES[keys] = _shape_encoder(keys, tuple(map(type, value.values())))
    return encode(value, head)


def _shape_encoder(keys: tuple[str, ...], types: tuple[type, ...]
                   ) -> Callable[[dict[str, Any], str], str]:
    """``encode(value, head)`` for dicts of these string keys: one f-string of the values when
    each has the type its place had here, else ``dumps``."""
    env: dict[str, Any] = {"dumps": dumps, "esc": json.encoder.encode_basestring_ascii,
                           "inf": float("inf")}
    names, checks, parts = [], [], []
    for index, (key, kind) in enumerate(zip(keys, types, strict=True)):
        name = f"v{index}"
        text, check = _WRITE.get(kind, _ANY)
        env[f"k{index}"] = ("" if index == 0 else ", ") + dumps(key) + ": "
        names.append(name)
        parts.append(f"{{k{index}}}" + text.replace("@", name))
        if check:
            checks.append(check.replace("@", name))
    lines = [
        "def encode(value, head):",
        f"    {', '.join(names)}, = value.values()",
        f"    if {' and '.join(checks) or 'True'}:",
        '        return f"{head}' + "".join(parts) + '}}"',
        "    return head + dumps(value)[1:]",
    ]
    exec("\n".join(lines), env)  # the code names only its own locals and the env's
    encode: Callable[[dict[str, Any], str], str] = env["encode"]
    return encode


#: ``encode(customer_ids, ids_json, event_type, stamp, properties)``: ``stamp`` is the JSON text
#: of the Unix seconds (``repr`` of the float, as :func:`~ga_ee_bridge.core.timestamps.
#: next_stamp_texts` writes it) or None (no timestamp: the server's receive time).
Encoder = Callable[[dict[str, Any], str, str, str | None, dict[str, Any]], Any]

_COMMAND_HEAD = '{"name": ' + dumps(EVENT_COMMAND) + ', "data": {"customer_ids": '


def encode_command(
    ids: dict[str, Any], ids_json: str, event_type: str, stamp: str | None,
    properties: dict[str, Any],
) -> str:
    """One JSONL line, byte for byte ``json.dumps(command) + "\\n"`` of the batch command."""
    return _command_line(ids_json, event_type, stamp, object_json(properties))


def encode_command_split(
    ids: dict[str, Any], ids_json: str, event_type: str, stamp: str | None, event: Any,
) -> str:
    """:func:`encode_command` of a :class:`~ga_ee_bridge.mappings.compiled.SplitEvent`, the same
    bytes: its section's shared properties are encoded once, each item's own joined on."""
    shared = event.shared
    head = shared.open
    if head is None:
        whole = object_json(shared.properties)
        head = shared.open = f"{whole[:-1]}, " if len(whole) > 2 else "{"
        shared.json = whole
    item = event.item
    return _command_line(ids_json, event_type, stamp,
                         object_json(item, head) if item else shared.json)


def _command_line(ids_json: str, event_type: str, stamp: str | None,
                  properties_json: str) -> str:
    event_json = _EVENT_TYPES.get(event_type)
    if event_json is None:
        event_json = dumps(event_type)
        if len(_EVENT_TYPES) < 1024:  # a mapping's few names (bounded: aliases are the user's)
            _EVENT_TYPES[event_type] = event_json
    if stamp is None:
        return (f'{_COMMAND_HEAD}{ids_json}, "event_type": {event_json}, '
                f'"properties": {properties_json}}}}}\n')
    return (f'{_COMMAND_HEAD}{ids_json}, "event_type": {event_json}, "timestamp": {stamp}, '
            f'"properties": {properties_json}}}}}\n')


#: The JSON of the event types encoded so far.
_EVENT_TYPES: dict[str, str] = {}


def encode_csv(
    ids: dict[str, Any], ids_json: str, event_type: str, stamp: str | None,
    properties: dict[str, Any],
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A spool line ``[ids, timestamp, properties]`` and the id and property names it has."""
    line = f"[{ids_json}, {'null' if stamp is None else stamp}, {object_json(properties)}]\n"
    return line, tuple(ids), tuple(properties)


def encode_dict(
    ids: dict[str, Any], ids_json: str, event_type: str, stamp: str | None,
    properties: dict[str, Any],
) -> dict[str, Any]:
    """The batch command as a dict (what :meth:`TrackEvent.to_command` returns)."""
    dumps(properties)  # the same NaN check as the other formats
    data: dict[str, Any] = {"customer_ids": dict(ids), "event_type": event_type}
    if stamp is not None:
        data["timestamp"] = float(stamp)  # the float whose repr the text is
    data["properties"] = properties
    return {"name": EVENT_COMMAND, "data": data}


def encode_none(
    ids: dict[str, Any], ids_json: str, event_type: str, stamp: str | None,
    properties: dict[str, Any],
) -> None:
    """Nothing (``validate``), after the same NaN check as the other formats."""
    dumps(properties)


#: Encoders that take a :class:`~ga_ee_bridge.mappings.compiled.SplitEvent` in place of the
#: properties (the others are given ``event.properties_dict()``).
SPLIT_ENCODERS: dict[Encoder, Callable[..., Any]] = {encode_command: encode_command_split}

ENCODERS: dict[str, Encoder] = {
    "commands": encode_command,
    "csv": encode_csv,
    "dict": encode_dict,
    "none": encode_none,
}
