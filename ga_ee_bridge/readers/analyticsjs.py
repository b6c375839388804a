"""analytics.js ``ec`` plugin commands (``ga('ec:addProduct', {...})``) -> the model.

The input is a list of commands, each the argument list of one ``ga()`` call: ``[["set", "&cu",
"EUR"], ["ec:addProduct", {...}], ["ec:setAction", "purchase", {...}], ["send", "pageview"]]``. As
in the plugin, impressions, products and promotions accumulate until a ``send``, which carries them
with the action set last; each ``send`` carrying ecommerce data yields one
:class:`~ga_ee_bridge.core.model.Ecommerce`. ``ec:addPromo`` without a ``promo_click`` action is a
promotion view. Field objects have UA's keys and are read by the UA reader's schemas. Errors name
the command and argument: ``[3][1].price: not a number: 'abc'``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from marshmallow import ValidationError

from ga_ee_bridge.core.model import (
    KINDS,
    ActionField,
    Ecommerce,
    Impression,
    Product,
    Promotion,
    Section,
)
from ga_ee_bridge.errors import EcommerceError, show
from ga_ee_bridge.readers._fields import (
    Currency,
    Found,
    collecting,
    mark,
    prefix_since,
    rename_since,
    taken_since,
    to_warnings,
)
from ga_ee_bridge.readers._renamed import blank
from ga_ee_bridge.readers.ua import field_schemas

__all__ = [
    "ACTIONS",
    "Send",
    "SendList",
    "is_analyticsjs_commands",
    "read_analyticsjs",
    "read_analyticsjs_sends",
]

logger = logging.getLogger("ga_ee_bridge.readers.analyticsjs")

#: ``ec:setAction`` actions -> model section kinds (``promo_click`` turns promotions into clicks).
ACTIONS: dict[str, str] = {
    "click": "click",
    "detail": "detail",
    "add": "add",
    "remove": "remove",
    "checkout": "checkout",
    "checkout_option": "checkout_option",
    "purchase": "purchase",
    "refund": "refund",
    "promo_click": "promoClick",
}
_EC_COMMANDS = frozenset({"ec:addImpression", "ec:addProduct", "ec:addPromo", "ec:setAction"})
_CURRENCY_FIELDS = ("&cu", "currencyCode")
_NEEDS_ID = frozenset({"purchase", "refund"})
_CURRENCY = Currency()


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """One ``send`` command and the ecommerce data it carried."""

    ecommerce: Ecommerce
    #: Index of the ``send`` command in the list.
    command: int
    #: ``pageview``, ``event``...: the hit type sent (None when not given).
    hit_type: str | None = None
    #: The tracker name (``"t2"`` for ``t2.send``; None for the default tracker).
    tracker: str | None = None
    #: Commands whose data GA ignores, e.g. ``[2]``: an ``ec:addProduct`` with no action set.
    ignored: tuple[str, ...] = ()


class SendList(list[Send]):
    """The sends of a command list; ``unsent`` names ``ec`` commands no ``send`` followed."""

    def __init__(self, sends: list[Send], *, unsent: tuple[str, ...] = ()) -> None:
        super().__init__(sends)
        self.unsent = unsent


@dataclass
class _Pending:
    """What one tracker has accumulated since its last send."""

    impressions: list[tuple[int, Impression]] = field(default_factory=list)
    products: list[tuple[int, Product]] = field(default_factory=list)
    promotions: list[tuple[int, Promotion]] = field(default_factory=list)
    action: tuple[int, str, ActionField] | None = None
    currency: Any = None
    #: Values dropped while reading the commands since the last send.
    found: list[Found] = field(default_factory=list)

    def has_data(self) -> bool:
        return bool(self.impressions or self.products or self.promotions or self.action)

    def commands(self) -> list[int]:
        indexes = [i for i, _ in self.impressions]
        indexes.extend(i for i, _ in self.products)
        indexes.extend(i for i, _ in self.promotions)
        if self.action is not None:
            indexes.append(self.action[0])
        return sorted(indexes)

    def clear(self) -> None:
        self.impressions.clear()
        self.products.clear()
        self.promotions.clear()
        self.action = None
        self.found = []


def _as_command(value: Any) -> list[Any] | None:
    """A command as a list: a JSON array, or an ``arguments`` object ``{"0": ..., "1": ...}``."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, Mapping) and value and all(
        isinstance(key, str) and key.isdigit() for key in value
    ):
        return [value[str(i)] for i in range(len(value)) if str(i) in value]
    return None


def _split(name: str) -> tuple[str | None, str]:
    """``"t2.ec:addProduct"`` -> ``("t2", "ec:addProduct")``; no tracker -> None."""
    head, dot, tail = name.partition(".")
    if dot and ":" not in head:
        return head, tail
    return None, name


def is_analyticsjs_commands(obj: Any) -> bool:
    """Cheap check: is ``obj`` a list of ``ga()`` commands with at least one ``ec:`` command?"""
    if not isinstance(obj, list | tuple) or not obj:
        return False
    seen_ec = False
    for item in obj:
        if not isinstance(item, list | tuple) or not item or not isinstance(item[0], str):
            return False
        name = _split(item[0])[1]
        seen_ec = seen_ec or name in _EC_COMMANDS
    return seen_ec


def read_analyticsjs_sends(commands: Any, *, strict: bool = False) -> SendList:
    """Read a command list into its sends, every bad command reported at once.

    Raises :class:`EcommerceError` (paths ``[command][argument].key``). Lenient mode reports data
    GA would ignore (products with no action, ``ec`` commands never sent) in ``Send.ignored`` and
    ``SendList.unsent``; strict mode rejects it.
    """
    if not isinstance(commands, list | tuple):
        raise EcommerceError([f"not a list of commands: {show(commands)}"])
    with collecting():
        return _read_sends(commands, strict)


def _read_sends(commands: list[Any] | tuple[Any, ...], strict: bool) -> SendList:
    schemas = field_schemas(strict)
    currency_field = Currency(strict=strict)
    trackers: dict[str | None, _Pending] = {}
    sends: list[Send] = []
    errors: dict[str | int, Any] = {}
    for index, value in enumerate(commands):
        command = _as_command(value)
        if command is None or not command or not isinstance(command[0], str):
            errors[index] = [
                f"not a command (a list starting with the command name): {show(value)}"
            ]
            continue
        tracker, name = _split(command[0])
        pending = trackers.setdefault(tracker, _Pending())
        args = command[1:]
        since = mark()
        try:
            if name == "ec:addImpression":
                pending.impressions.append((index, _load(schemas.impression, args, 1)))
            elif name == "ec:addProduct":
                pending.products.append((index, _load(schemas.product, args, 1)))
            elif name == "ec:addPromo":
                pending.promotions.append((index, _load(schemas.promotion, args, 1)))
            elif name == "ec:setAction":
                pending.action = (index, *_action(args, schemas.action_field))
            elif name == "set":
                _set(pending, args, currency_field)
            elif name == "send":
                send = _send(pending, index, tracker, args, strict)
                if send is not None:
                    sends.append(send)
            elif name.startswith("ec:"):
                raise ValidationError({0: [f"unknown ec command: {show(name)}"]})
            # Other commands (create, require, set of other fields...) carry no ecommerce data.
        except ValidationError as err:
            errors[index] = err.messages
        prefix_since(since, index)
        pending.found.extend(taken_since(since))
    unsent = tuple(
        f"[{i}]" for pending in trackers.values() if pending.has_data() for i in pending.commands()
    )
    if unsent and strict:
        for path in unsent:
            errors.setdefault(int(path[1:-1]), ["ecommerce data no 'send' command followed"])
    if errors:
        raise EcommerceError(errors)
    return SendList(sends, unsent=unsent)


def read_analyticsjs(commands: Any, *, strict: bool = False) -> Iterator[Ecommerce]:
    """Read a list of ``ga()`` commands: one :class:`Ecommerce` per ``send`` carrying EE data.

    The whole list is read before the first result, so bad input raises
    :class:`EcommerceError` here, with every bad command. Ignored and unsent data is logged (see
    :func:`read_analyticsjs_sends` to inspect it).
    """
    sends = read_analyticsjs_sends(commands, strict=strict)
    for send in sends:
        if send.ignored:
            logger.warning(
                "analytics.js send %s: ignored commands with no ec:setAction: %s",
                send.command, ", ".join(send.ignored),
            )
    if sends.unsent:
        logger.warning("analytics.js: ec commands never sent: %s", ", ".join(sends.unsent))
    return iter([send.ecommerce for send in sends])


def _load(schema: Any, args: list[Any], position: int) -> Any:
    """Load the field object at ``args[position - 1]``; errors keyed by argument index."""
    if not args:
        raise ValidationError({position: ["missing: the field object"]})
    value = args[0]
    if not isinstance(value, Mapping):
        raise ValidationError({position: [f"not an object: {show(value)}"]})
    since = mark()
    try:
        result = schema.load(value)
    except ValidationError as err:
        raise ValidationError({position: err.messages}) from None
    prefix_since(since, position)
    return result


def _action(args: list[Any], schema: Any) -> tuple[str, ActionField]:
    """``ec:setAction`` arguments -> (kind, actionField)."""
    if not args or not isinstance(args[0], str):
        raise ValidationError({1: [f"not an action name: {show(args[0] if args else None)}"]})
    action = args[0].strip()
    kind = ACTIONS.get(action)
    if kind is None:
        raise ValidationError({1: [
            f"unknown action {show(args[0])}: expected one of {', '.join(ACTIONS)}"
        ]})
    if len(args) < 2 or args[1] is None:
        action_field = ActionField()
        raw: Mapping[str, Any] = {}
    else:
        raw = args[1] if isinstance(args[1], Mapping) else {}
        action_field = _load(schema, args[1:], 2)
    if kind in _NEEDS_ID and (blank(raw.get("id")) or action_field.id is None):
        raise ValidationError({2: {"id": [
            f"missing: a {kind} needs an id, found {show(raw.get('id'))}"
        ]}})
    return kind, action_field


def _set(pending: _Pending, args: list[Any], currency_field: Currency) -> None:
    """``set`` of the currency (``&cu`` or ``currencyCode``); other fields are not ecommerce."""
    if args and isinstance(args[0], Mapping):
        for key in _CURRENCY_FIELDS:
            if key in args[0]:
                value = args[0][key]
                since = mark()
                try:
                    read = currency_field.deserialize(value)
                except ValidationError as err:
                    raise ValidationError({1: {key: err.messages}}) from None
                rename_since(since, _under(1, key))
                pending.currency = value if read is not None else None
    elif len(args) >= 2 and isinstance(args[0], str) and args[0] in _CURRENCY_FIELDS:
        since = mark()
        try:
            read = currency_field.deserialize(args[1])
        except ValidationError as err:
            raise ValidationError({2: err.messages}) from None
        rename_since(since, _under(2))
        pending.currency = args[1] if read is not None else None


def _under(*parts: str | int) -> Callable[[tuple[str | int, ...]], tuple[str | int, ...]]:
    """A path rewrite for a value read on its own: its path is ``parts`` (argument, key)."""
    return lambda _: parts


def _send(
    pending: _Pending, index: int, tracker: str | None, args: list[Any], strict: bool
) -> Send | None:
    """Build what a ``send`` carries and clear the tracker's ecommerce data (not its currency)."""
    hit_type: str | None = None
    if args and isinstance(args[0], str):
        hit_type = args[0]
    elif args and isinstance(args[0], Mapping) and isinstance(args[0].get("hitType"), str):
        hit_type = args[0]["hitType"]
    if not pending.has_data():
        return None
    sections: dict[str, Section] = {}
    ignored: list[str] = []
    if pending.impressions:
        sections["impressions"] = Section(
            kind="impressions", items=tuple(item for _, item in pending.impressions)
        )
    kind = pending.action[1] if pending.action else None
    if kind is not None and kind != "promoClick" and pending.action is not None:
        products = () if kind == "checkout_option" else tuple(p for _, p in pending.products)
        sections[kind] = Section(
            kind=kind, action_field=pending.action[2], items=products,
            has_products=bool(products),
        )
        if kind == "checkout_option":
            ignored.extend(f"[{i}]" for i, _ in pending.products)
    else:
        ignored.extend(f"[{i}]" for i, _ in pending.products)
    if pending.promotions:
        promo_kind = "promoClick" if kind == "promoClick" else "promoView"
        sections[promo_kind] = Section(
            kind=promo_kind, items=tuple(item for _, item in pending.promotions)
        )
    found = pending.found
    pending.clear()
    if ignored and strict:
        raise ValidationError({0: [
            f"products ({', '.join(ignored)}) sent with no product action: GA ignores them"
        ]})
    currency = pending.currency
    return Send(
        ecommerce=Ecommerce(
            currency_code=_CURRENCY.deserialize(currency) if currency is not None else None,
            raw_currency_code=currency,
            sections=MappingProxyType({k: sections[k] for k in KINDS if k in sections}),
            warnings=to_warnings(found),
        ),
        command=index,
        hit_type=hit_type,
        tracker=tracker,
        ignored=tuple(ignored),
    )
