"""File-level forms in the converter: MP hits, BigQuery rows, analytics.js commands.

A :class:`~ga_ee_bridge.convert.input.Source` record (framed by its form in
:mod:`ga_ee_bridge.convert.input`) is expanded here, where the converter runs (a worker process with
``--jobs``), into :class:`SourcePage`\\ s: the page's metadata and its :class:`Unit`\\ s, each one
ecommerce hit (or ``send``) already read by its reader, with the data-model state it implies
(customer ids, time). The converter then treats a unit like a dataLayer push: the same ids, time,
duplicates and rejects. What a page is, per form:

- ``mp``: one hit (a line, or one hit of a ``/batch`` body); ids from ``cid`` (``cookie``) and
  ``uid`` (``registered``); time = the line's receive time - ``qt`` ms, none without one;
- ``bq``: one session row; the id from ``--bq-customer-id`` (``userId`` -> ``registered``,
  ``clientId`` / ``fullVisitorId`` -> ``cookie``); time = ``visitStartTime`` + ``hits.time``;
- ``analyticsjs``: a command list (a page object's ``commands``, or commands up to the next
  ``create``); ids and time from the page object's metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from ga_ee_bridge.convert.input import Broken, Source, split_mp_line
from ga_ee_bridge.convert.reasons import RejectReason
from ga_ee_bridge.convert.records import decode_record
from ga_ee_bridge.core.model import Ecommerce
from ga_ee_bridge.core.timestamps import TimestampError, to_micros
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.readers.analyticsjs import (
    _as_command,
    _split,
    read_analyticsjs_sends,
)
from ga_ee_bridge.readers.bigquery import is_bigquery_row, read_bigquery_row
from ga_ee_bridge.readers.mp import parse_query, read_mp_hit

if TYPE_CHECKING:
    from ga_ee_bridge.convert.options import ConvertOptions

__all__ = ["SourcePage", "Unit", "expand"]

_CURRENCY_FIELDS = ("&cu", "currencyCode")
_MP_TIME = ("a Measurement Protocol hit carries no receive time: write the log lines as "
            'TIME<TAB>HIT or {"timestamp": TIME, "hit": HIT}')


@dataclass(frozen=True, slots=True)
class Unit:
    """One ecommerce unit of a source record, read: what the converter treats as a push."""

    line: int
    index: int | None
    #: Merged into the page's data-model state before the unit (``timestamp``, ``customer_ids``).
    state: dict[str, Any] | None
    #: The model read, the reader's error (paths from :attr:`root`), what else the reader raised
    #: (a reject with its reason), or None: nothing to convert.
    result: Ecommerce | Exception | None
    #: What a reject shows as the push (JSON).
    shown: Any
    #: What error paths start from (for their values).
    root: Any
    #: The unit's place in its record (``hits[3]``, ``[5]``), before data-model paths.
    container: str
    #: How many input pushes (hits, commands) the unit stands for.
    pushes: int = 1
    #: Added to a ``no timestamp`` reject's message: where this form's time comes from.
    time_hint: str = ""


class SourcePage(NamedTuple):
    """A page of a source record: metadata (like a page object's), units, pushes skipped."""

    meta: dict[str, Any]
    units: list[Unit]
    skipped: int = 0


def expand(line: int, index: int | None, record: Source, options: ConvertOptions
           ) -> Iterator[SourcePage | Broken]:
    """The pages of one source record, or :class:`Broken` for a record that cannot be read."""
    if record.form == "mp":
        return _mp(line, record.data, options)
    if record.form == "bq":
        return _bq(line, record.data, options)
    if record.form == "analyticsjs":
        return _analyticsjs(record.data, options)
    raise ValueError(f"unknown source form {record.form!r}")


def _with_dropped(ecommerce: Ecommerce, extra: tuple[str, ...] | list[str]) -> Ecommerce:
    return replace(ecommerce, dropped_keys=(*ecommerce.dropped_keys, *extra)) if extra \
        else ecommerce


# -- Measurement Protocol -----------------------------------------------------------------------

def _mp(line: int, data: bytes, options: ConvertOptions) -> Iterator[SourcePage | Broken]:
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError as err:
        yield Broken(f"line {line} is not UTF-8 text ({err.reason})",
                     data.decode("utf-8", "replace").strip(), RejectReason.BROKEN_HIT)
        return
    try:
        receive, body = split_mp_line(text)
    except (ValueError, RecursionError) as err:
        yield Broken(f"line {line} is not a Measurement Protocol hit: {err}", text,
                     RejectReason.BROKEN_HIT)
        return
    hits = [hit.strip() for hit in body.split("\n")]
    hits = [hit for hit in hits if hit]
    batch = len(hits) > 1
    for position, hit in enumerate(hits):
        yield SourcePage({}, [_mp_unit(line, position if batch else None, receive, hit,
                                       options.strict)])


def _mp_unit(line: int, index: int | None, receive: Any, hit: str, strict: bool) -> Unit:
    try:
        return _read_hit(line, index, receive, hit, strict)
    except Exception as err:
        return Unit(line, index, None, err, hit, None, "")


def _read_hit(line: int, index: int | None, receive: Any, hit: str, strict: bool) -> Unit:
    if "=" not in hit:
        error = EcommerceError(["not a Measurement Protocol hit (a query string such as "
                                f"v=1&t=pageview&...): {hit[:80]!r}"])
        return Unit(line, index, None, error, hit, None, "")
    params = parse_query(hit)
    state: dict[str, Any] = {"hit": params}
    ids = {}
    if (params.get("cid") or "").strip():
        ids["cookie"] = params["cid"]
    if (params.get("uid") or "").strip():
        ids["registered"] = params["uid"]
    if ids:
        state["customer_ids"] = ids
    if receive not in (None, ""):
        try:
            queued = params.get("qt", "").strip()
            micros = to_micros(receive) - (int(queued) * 1000 if queued.isdigit() else 0)
            state["timestamp"] = micros
        except TimestampError:
            state["timestamp"] = receive  # the converter rejects it, showing the value
    result: Ecommerce | Exception | None
    try:
        read = read_mp_hit(params, strict=strict)
    except EcommerceError as err:
        result = err
    else:
        result = _with_dropped(read.ecommerce, read.ignored)
        if not result.sections and not result.dropped_keys:
            result = None  # a pageview or event without ecommerce
    return Unit(line, index, state, result, hit, params, "", time_hint=_MP_TIME)


# -- BigQuery export ----------------------------------------------------------------------------

def _bq(line: int, data: bytes, options: ConvertOptions) -> Iterator[SourcePage | Broken]:
    row = decode_record(line, data)
    if type(row) is Broken:
        yield row
        return
    try:
        yield _bq_page(line, row, options)
    except Exception as err:
        hits = row.get("hits") if type(row) is dict else None
        count = len(hits) if type(hits) is list else 1
        yield SourcePage({}, [Unit(line, None, None, err, row, row, "", count)])


def _bq_page(line: int, row: Any, options: ConvertOptions) -> SourcePage:
    hits = row.get("hits") if type(row) is dict else None
    count = len(hits) if type(hits) is list else 1
    if not is_bigquery_row(row):
        error = EcommerceError(["not a ga_sessions_* row (an object with a hits list and "
                                "visitStartTime, fullVisitorId or visitId)"])
        return SourcePage({}, [Unit(line, None, None, error, row, row, "", count)])
    try:
        records = list(read_bigquery_row(row, customer_id=options.bq_customer_id,
                                         strict=options.strict))
    except EcommerceError as err:
        return SourcePage({}, [Unit(line, None, None, err, row, row, "", count)])
    meta: dict[str, Any] = {"row": {
        key: row[key] for key in ("userId", "clientId", "fullVisitorId", "visitId",
                                  "visitStartTime") if row.get(key) is not None
    }}
    if records and records[0].customer_id is not None:
        name = "registered" if records[0].customer_id_field == "userId" else "cookie"
        meta["customer_ids"] = {name: records[0].customer_id}
    units = []
    assert hits is not None
    for record in records:
        state = None
        if record.timestamp is not None:
            state = {"timestamp": round(record.timestamp * 1_000_000)}
        units.append(Unit(line, None, state, _with_dropped(record.ecommerce, record.ignored),
                          hits[record.hit_index], row, f"hits[{record.hit_index}]"))
    return SourcePage(meta, units, count - len(records))


# -- analytics.js -------------------------------------------------------------------------------

def _analyticsjs(data: tuple[dict[str, Any], list[tuple[int, int | None, Any]]],
                 options: ConvertOptions) -> Iterator[SourcePage]:
    """Split a page's commands into sends (per tracker, with its currency) and read each."""
    meta, commands = data
    keys = [index if index is not None else line - 1 for line, index, _ in commands]
    pending: dict[str | None, list[int]] = {}
    currency: dict[str | None, int] = {}
    units: list[Unit] = []
    skipped = 0
    for position, (_, _, value) in enumerate(commands):
        command = _as_command(value)
        if not command or not isinstance(command[0], str):
            units.append(_send_unit(commands, keys, [position], 1, options.strict))
            continue
        tracker, name = _split(command[0])
        if name == "send":
            positions = pending.pop(tracker, [])
            sent = len(positions) + 1
            if tracker in currency:
                positions = [currency[tracker], *positions]
            units.append(_send_unit(commands, keys, [*positions, position], sent, options.strict))
        elif name.startswith("ec:"):
            pending.setdefault(tracker, []).append(position)
        else:
            skipped += 1
            if name == "set" and len(command) > 1 and (
                command[1] in _CURRENCY_FIELDS
                or (isinstance(command[1], dict) and any(k in command[1] for k in
                                                          _CURRENCY_FIELDS))
            ):
                currency[tracker] = position
    for positions in pending.values():  # never sent: reported, not converted
        if positions:
            units.append(_send_unit(commands, keys, positions, len(positions), options.strict))
    units.sort(key=lambda unit: (unit.line, -1 if unit.index is None else unit.index))
    yield SourcePage(meta, units, skipped)


def _send_unit(commands: list[tuple[int, int | None, Any]], keys: list[int],
               positions: list[int], pushes: int, strict: bool) -> Unit:
    segment = [commands[position][2] for position in positions]
    where = [keys[position] for position in positions]
    root = dict(zip(where, segment, strict=True))
    line, index, _ = commands[positions[-1]]
    result: Ecommerce | Exception | None
    try:
        sends = read_analyticsjs_sends(segment, strict=strict)
    except EcommerceError as err:
        messages = err.messages
        if isinstance(messages, dict):
            messages = {where[key] if isinstance(key, int) else key: value
                        for key, value in messages.items()}
        result = EcommerceError(messages)
    except Exception as err:
        result = err
    else:
        def moved(paths: tuple[str, ...]) -> list[str]:
            return [f"[{where[int(path[1:-1])]}]" for path in paths]

        unsent = moved(sends.unsent)
        if sends:
            result = _with_dropped(sends[0].ecommerce, [*moved(sends[0].ignored), *unsent])
        else:
            result = Ecommerce(dropped_keys=tuple(unsent)) if unsent else None
    return Unit(line, index, None, result, segment, root, f"[{where[-1]}]", pushes)
