"""What a conversion is asked to do: :class:`ConvertOptions` and the customer-id specs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ga_ee_bridge.convert.gtm_state import split_path
from ga_ee_bridge.convert.json_stream import MAX_RECORD
from ga_ee_bridge.convert.links import LinkRule
from ga_ee_bridge.convert.pushes import SOURCES, push_to_ecommerce
from ga_ee_bridge.convert.updates import UpdateSpec
from ga_ee_bridge.core.ids import looks_like_email, normalise_email
from ga_ee_bridge.core.model import Ecommerce
from ga_ee_bridge.mappings import EventMapping, get_mapping, resolve_kinds
from ga_ee_bridge.readers.bigquery import CUSTOMER_ID_FIELDS

__all__ = ["DEFAULT_TIMESTAMP_PATHS", "ConvertOptions", "IdSpec", "normalise_id",
           "parse_aliases"]

#: Where the timestamp of a push is looked for in the data-model state, first found wins.
DEFAULT_TIMESTAMP_PATHS: tuple[str, ...] = ("timestamp", "event_timestamp", "gtm.start")

@dataclass(frozen=True, slots=True)
class IdSpec:
    """A customer id: ``NAME=PATH`` (dotted path in the data-model state) or ``NAME=:VALUE``."""

    name: str
    path: tuple[str, ...] | None = None
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> IdSpec:
        """Parse ``registered=user.email`` or ``registered=:jane@example.com``."""
        name, sep, rest = text.partition("=")
        name = name.strip()
        if not sep or not name or not rest:
            raise ValueError(
                f"bad --id {text!r}: expected NAME=PATH (e.g. registered=user.email) or "
                "NAME=:VALUE (e.g. registered=:jane@example.com)"
            )
        if rest.startswith(":"):
            value = normalise_id(rest[1:])
            if value is None:
                raise ValueError(f"bad --id {text!r}: the value after ':' is empty")
            return cls(name, value=value)
        return cls(name, path=split_path(rest))


def normalise_id(value: Any) -> str | None:
    """A customer id as sent: text trimmed, emails lower-cased, integers as text; None if blank.

    Raises ValueError for what cannot be an id (objects, lists, booleans, fractional numbers).
    """
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return normalise_email(text) if looks_like_email(text) else text
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    raise ValueError(f"not a customer id: {value!r} (expected text or a whole number)")


def parse_aliases(aliases: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    """Event aliases from a mapping or ``NAME=GA_EVENT`` texts; ValueError says what is wrong."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(aliases, Mapping):
        pairs = list(aliases.items())
    else:
        for text in aliases:
            if not isinstance(text, str):
                raise ValueError(f"bad event alias {text!r}: expected NAME=GA_EVENT")
            name, sep, event = text.partition("=")
            if not sep:
                raise ValueError(f"bad --event-alias {text!r}: expected NAME=GA_EVENT, e.g. "
                                 "dl_purchase=purchase")
            pairs.append((name.strip(), event.strip()))
    result: dict[str, str] = {}
    for name, event in pairs:
        if not isinstance(name, str) or not isinstance(event, str) or not name or not event:
            raise ValueError(f"bad event alias {name!r} -> {event!r}: both must be non-empty "
                             "event names, e.g. dl_purchase=purchase")
        if result.get(name, event) != event:
            raise ValueError(f"event alias {name!r} given twice: {result[name]!r} and {event!r}")
        result[name] = event
    return result


@dataclass(frozen=True, kw_only=True)
class ConvertOptions:
    """Everything that decides what a dump converts to (keyword-only; validated on creation)."""

    kind: str = "all"
    #: A name in :data:`~ga_ee_bridge.mappings.MAPPINGS`, or the mapping itself: an engine's
    #: workers get a mapping object with the options (a name registered at run time in the
    #: driver does not exist on a worker).
    mapping: str | EventMapping = "sdk"
    tracked_via: str | None = None
    strict: bool = False
    ids: tuple[IdSpec, ...] = ()
    timestamp: str | None = None
    no_timestamp_ok: bool = False
    keep_duplicates: bool = False
    #: Ecommerce pushes held per page while waiting for its first timestamp.
    max_held: int = 1000
    #: ``auto`` or one of :data:`SOURCES`: the form of every push (UA, GA4, gtag) or every file
    #: (analytics.js commands, Measurement Protocol hits, BigQuery rows).
    source: str = "auto"
    #: BigQuery rows: the id columns tried in order for the customer (``userId`` -> the
    #: ``registered`` id, ``clientId`` / ``fullVisitorId`` -> ``cookie``).
    bq_customer_id: tuple[str, ...] = ("fullVisitorId",)
    #: Turns one push into the model (or None); module-level so worker processes can use it.
    #: Called as ``reader(push, strict=..., source=...)``.
    reader: Callable[..., Ecommerce | None] = push_to_ecommerce
    #: trackLink rules for GTM click pushes (``--link``), applied in this order.
    links: tuple[LinkRule, ...] = ()
    #: Customer properties for ``customers`` commands (``--update``), in this order.
    updates: tuple[UpdateSpec, ...] = ()
    #: Renamed events: a push's ``event`` (or a gtag.js event's name) -> the GA event it is
    #: (``{"dl_purchase": "purchase"}``); also ``["dl_purchase=purchase", ...]``.
    event_aliases: Mapping[str, str] | Iterable[str] = field(default_factory=dict)
    #: The longest record (a line, a push) read, in bytes; a longer one is skipped unread and
    #: rejected (``record too large``), so memory stays bounded whatever the input.
    max_record_size: int = MAX_RECORD

    def __post_init__(self) -> None:
        resolve_kinds(self.kind)
        get_mapping(self.mapping)
        if self.tracked_via is not None and not self.tracked_via:
            raise ValueError("tracked_via must not be empty")
        if self.timestamp is not None:
            split_path(self.timestamp)
        names = [spec.name for spec in self.ids]
        if len(set(names)) != len(names):
            raise ValueError(f"customer id given twice: {names}")
        if not all(isinstance(rule, LinkRule) for rule in self.links):
            raise ValueError(f"links must be LinkRule objects, got {self.links!r:.80}")
        if not all(isinstance(spec, UpdateSpec) for spec in self.updates):
            raise ValueError(f"updates must be UpdateSpec objects, got {self.updates!r:.80}")
        names = [spec.name for spec in self.updates]
        if len(set(names)) != len(names):
            raise ValueError(f"customer property given twice in updates: {names}")
        if self.max_held < 1:
            raise ValueError("max_held must be at least 1")
        if self.source != "auto" and self.source not in SOURCES:
            raise ValueError(
                f"unknown source {self.source!r}: expected auto or one of {', '.join(SOURCES)}"
            )
        object.__setattr__(self, "event_aliases", parse_aliases(self.event_aliases))
        if self.max_record_size < 1024:
            raise ValueError("max_record_size must be at least 1024 bytes")
        bad = [name for name in self.bq_customer_id if name not in CUSTOMER_ID_FIELDS]
        if bad or not self.bq_customer_id:
            raise ValueError(
                f"bad BigQuery customer id column {', '.join(bad) or '(none)'}: expected one or "
                f"more of {', '.join(CUSTOMER_ID_FIELDS)}"
            )

    @property
    def timestamp_paths(self) -> tuple[tuple[str, ...], ...]:
        """The split timestamp paths, in the order they are tried."""
        paths = (self.timestamp,) if self.timestamp else DEFAULT_TIMESTAMP_PATHS
        return tuple(split_path(path) for path in paths)


