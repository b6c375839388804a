"""identify / update from dumps: ``--update PROPERTY=PATH`` as Tracking API ``customers`` commands.

The values are read from the page's GTM data-model state (``user.email``) with each push, as the
site's own ``exponea.identify(ids, properties)`` / ``exponea.update(properties)`` tags read them.
A ``customers`` command goes out before the first event of that customer that follows, once per
customer and distinct set of values (duplicates are dropped in input order, whatever ``--jobs``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ga_ee_bridge.convert.encoders import ENCODERS, Encoder, dumps
from ga_ee_bridge.convert.gtm_state import split_path
from ga_ee_bridge.convert.page import Held, PageState
from ga_ee_bridge.convert.reasons import RejectReason
from ga_ee_bridge.convert.rejects import Ledger
from ga_ee_bridge.convert.results import CUSTOMERS_SEGMENT, Segment
from ga_ee_bridge.core.customers import normalise_customer_properties
from ga_ee_bridge.core.events import customer_command
from ga_ee_bridge.core.timestamps import micros_to_seconds, next_stamp
from ga_ee_bridge.errors import RuleError

__all__ = ["CUSTOMERS", "CUSTOMER_ENCODERS", "UpdateSpec", "Updater"]

#: The key a ``customers`` command has among a segment's events (no event type looks like it).
CUSTOMERS = "(customers)"

CustomerEncoder = Callable[[dict[str, Any], str, float | None, dict[str, Any]], Any]


def _customer_line(ids: dict[str, Any], ids_json: str, seconds: float | None,
                   properties: dict[str, Any]) -> str:
    return dumps(customer_command(ids, properties, timestamp=seconds)) + "\n"


def _customer_csv(ids: dict[str, Any], ids_json: str, seconds: float | None,
                  properties: dict[str, Any]) -> Any:
    stamp = None if seconds is None else repr(seconds)
    return ENCODERS["csv"](ids, ids_json, CUSTOMERS, stamp, properties)  # the same spool


def _customer_dict(ids: dict[str, Any], ids_json: str, seconds: float | None,
                   properties: dict[str, Any]) -> dict[str, Any]:
    return customer_command(ids, properties, timestamp=seconds)


def _customer_none(ids: dict[str, Any], ids_json: str, seconds: float | None,
                   properties: dict[str, Any]) -> None:
    return None


#: The event encoder of each output format -> its encoder of ``customers`` commands.
CUSTOMER_ENCODERS: dict[Encoder, CustomerEncoder] = {
    ENCODERS["commands"]: _customer_line,
    ENCODERS["csv"]: _customer_csv,
    ENCODERS["dict"]: _customer_dict,
    ENCODERS["none"]: _customer_none,
}


def _value(name: str, value: Any) -> Any:
    """A customer property as sent (text trimmed; email / phone / language normalised), None if
    blank; ``ValueError`` (its message without a place) for what cannot be one."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    elif value is None:
        return None
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    elif not isinstance(value, bool | int | float):
        shown = json.dumps(value, default=repr)
        raise ValueError("a customer property must be text, a number or a boolean, got "
                         + (shown if len(shown) <= 80 else shown[:77] + "..."))
    try:
        return normalise_customer_properties({name: value})[name]
    except ValueError as err:
        raise ValueError(str(err).partition(": ")[2] or str(err)) from None


@dataclass(frozen=True, slots=True)
class UpdateSpec:
    """A customer property: ``NAME=PATH`` (dotted path in the data-model state) or ``NAME=:VALUE``.

    ``email``, ``phone`` and ``language`` are normalised (and checked) as the client does.
    """

    name: str
    path: tuple[str, ...] | None = None
    value: Any = None

    @classmethod
    def parse(cls, text: str) -> UpdateSpec:
        """Parse ``email=user.email`` or ``tier=:gold`` (the ``--update`` form)."""
        name, sep, rest = text.partition("=")
        name = name.strip()
        if not sep or not name or not rest.strip():
            raise RuleError(f"bad --update {text!r}: expected PROPERTY=PATH (e.g. "
                            "email=user.email) or PROPERTY=:VALUE (e.g. tier=:gold)")
        if not name.isascii():
            raise RuleError(f"bad --update {text!r}: the property name must be ASCII")
        if rest.startswith(":"):
            try:
                value = _value(name, rest[1:])
            except ValueError as err:
                raise RuleError(f"bad --update {text!r}: {err}") from None
            if value is None:
                raise RuleError(f"bad --update {text!r}: the value after ':' is empty")
            return cls(name, value=value)
        try:
            return cls(name, path=split_path(rest.strip()))
        except ValueError as err:
            raise RuleError(f"bad --update {text!r}: {err}") from None


class Updater:
    """Reads the ``--update`` values of a page's state, and makes their ``customers`` segment."""

    def __init__(self, specs: Sequence[UpdateSpec], encode: Encoder):
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise RuleError(f"customer property given twice in --update: {names}")
        self.specs = tuple(specs)
        self.encode = CUSTOMER_ENCODERS[encode]
        self._last: str | None = None
        self._page: PageState | None = None
        self._reported: set[tuple[str, str]] = set()

    @staticmethod
    def state_paths(specs: Sequence[UpdateSpec]) -> frozenset[str]:
        """The data-model paths the specs read (the state must keep them)."""
        return frozenset(".".join(spec.path) for spec in specs if spec.path)

    def read(self, page: PageState, line: int, index: int | None, push: Any,
             ledger: Ledger) -> dict[str, Any] | None:
        """The values known in the page's state at this push (None: none); each value that
        cannot be sent is left out and becomes a reject of the push, once per page."""
        if page is not self._page:
            self._page, self._reported = page, set()
        properties: dict[str, Any] = {}
        errors: list[tuple[str, str, Any]] = []
        for spec in self.specs:
            if spec.path is None:
                properties[spec.name] = spec.value
                continue
            raw = page.model.get(spec.path)
            try:
                value = _value(spec.name, raw)
            except ValueError as err:
                seen = (spec.name, json.dumps(raw, sort_keys=True, default=repr))
                if seen not in self._reported:
                    self._reported.add(seen)
                    errors.append((".".join(spec.path), f"{spec.name}: {err} (in the data-model "
                                   "state; left out of the customers command)", raw))
                continue
            if value is not None:
                properties[spec.name] = value
        if errors:
            ledger.reject(line, index, page, RejectReason.BAD_CUSTOMER_PROPERTY, errors, push,
                          state=True)
        return properties or None

    def customers(self, held: Held, before_us: int, ts: int | None) -> list[Segment]:
        """The ``customers`` segment to go before ``held``'s events (stamped as the first of
        them, which came after ``before_us``); none when it repeats the last one."""
        properties = held.update or {}
        key = f"{CUSTOMERS_SEGMENT}{held.ids_json}\n{dumps(properties)}"
        if key == self._last:
            return []
        self._last = key
        seconds = None if ts is None else micros_to_seconds(next_stamp(before_us, ts))
        encoded = self.encode(held.ids, held.ids_json, seconds, properties)
        return [Segment(key, [(CUSTOMERS, encoded)])]
