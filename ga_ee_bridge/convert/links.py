"""trackLink rules for dumps: ``exponea.trackLink(selector, event, properties)`` replayed offline.

A :class:`LinkRule` (``--link 'SELECTOR=EVENT_TYPE [JSON_PROPERTIES]'``) applies to GTM's click
pushes (``gtm.linkClick``, ``gtm.click``) and is matched on what GTM records of the clicked element:
``#id`` (``gtm.elementId``), ``.class`` (``gtm.elementClasses``), ``a[href="..."]`` and its ``^=``
``*=`` ``$=`` forms (``gtm.elementUrl``), ``*``, and comma-separated lists of these.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ga_ee_bridge.core.events import TrackEvent
from ga_ee_bridge.errors import RuleError

__all__ = ["CLICK_EVENTS", "LinkRule", "link_events"]

#: The GTM auto-events a rule applies to.
CLICK_EVENTS: frozenset[str] = frozenset({"gtm.linkClick", "gtm.click"})

_IDENT = r"-?[_a-zA-Z\u00a0-\uffff][_a-zA-Z0-9\u00a0-\uffff-]*"
_SIMPLE_PATTERN = rf"""\s*(?:
        (?P<star>\*)
      | \#(?P<id>{_IDENT})
      | \.(?P<cls>{_IDENT})
      | a\[\s*href\s*(?P<op>[\^*$]?=)\s*
          (?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"'\]]+))\s*\]
    )\s*"""


@cache
def _simple() -> re.Pattern[str]:
    """The simple-selector pattern, compiled on the first ``--link``: its ranges up to U+FFFF
    cost ~14 ms to compile, which every run would pay at import."""
    return re.compile(_SIMPLE_PATTERN, re.VERBOSE)


_SELECTOR_HELP = (
    "expected #id, .class, a[href=\"...\"], a[href^=\"...\"], a[href*=\"...\"], "
    "a[href$=\"...\"], * or a comma-separated list of these"
)


@dataclass(frozen=True, slots=True)
class _Simple:
    """One simple selector: ``kind`` is ``*``, ``id``, ``class`` or an href operator."""

    kind: str
    value: str = ""

    def matches(self, push: Mapping[str, Any]) -> bool:
        kind = self.kind
        if kind == "*":
            return True
        if kind == "id":
            return push.get("gtm.elementId") == self.value
        if kind == "class":
            classes = push.get("gtm.elementClasses")
            return isinstance(classes, str) and self.value in classes.split()
        url = push.get("gtm.elementUrl")
        if not isinstance(url, str) or not url or not _is_link(push):
            return False
        return any(_compare(kind, candidate, self.value) for candidate in _forms(url, self.value))


def _is_link(push: Mapping[str, Any]) -> bool:
    """False only when the dump kept the clicked element and it is no ``<a>``."""
    element = push.get("gtm.element")
    if isinstance(element, Mapping):
        tag = element.get("tagName", element.get("nodeName"))
        if isinstance(tag, str):
            return tag.lower() == "a"
    return True


def _forms(url: str, value: str) -> tuple[str, ...]:
    """The URL as GTM recorded it, plus its path form when the selector's value is relative.

    GTM records the absolute URL; a site's selector may name the ``href`` as written
    (``/cart``), which the browser matches against the attribute, not the resolved URL.
    """
    if value.startswith("/") and not value.startswith("//"):
        parts = urlsplit(url)
        if parts.scheme and parts.netloc:
            relative = parts.path or "/"
            if parts.query:
                relative += "?" + parts.query
            if parts.fragment:
                relative += "#" + parts.fragment
            return (url, relative)
    return (url,)


def _compare(op: str, url: str, value: str) -> bool:
    if op == "=":
        return url == value
    if op == "^=":
        return bool(value) and url.startswith(value)
    if op == "*=":
        return bool(value) and value in url
    return bool(value) and url.endswith(value)  # $=


def parse_selector(selector: str) -> tuple[_Simple, ...]:
    """The simple selectors of a comma-separated list; :class:`RuleError` names the selector."""
    parts: list[_Simple] = []
    position = 0
    text = selector
    while True:
        match = _simple().match(text, position)
        if match is None:
            raise RuleError(f"unsupported selector {selector!r}: {_SELECTOR_HELP}")
        if match.group("star"):
            parts.append(_Simple("*"))
        elif match.group("id"):
            parts.append(_Simple("id", match.group("id")))
        elif match.group("cls"):
            parts.append(_Simple("class", match.group("cls")))
        else:
            value = next(v for v in match.group("dq", "sq", "bare") if v is not None)
            parts.append(_Simple(match.group("op"), value))
        position = match.end()
        if position == len(text):
            return tuple(parts)
        if text[position] != ",":
            raise RuleError(f"unsupported selector {selector!r}: {_SELECTOR_HELP}")
        position += 1


def _split_rule(text: str) -> tuple[str, str]:
    """``SELECTOR`` and the rest, at the first ``=`` outside brackets and quotes."""
    depth = 0
    quote = ""
    for position, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "=" and depth == 0:
            return text[:position].strip(), text[position + 1:].strip()
    if depth or quote:
        raise RuleError(f"unsupported selector in --link {text!r}: a '[' or a quote is not "
                        "closed")
    raise RuleError(f"bad --link {text!r}: expected 'SELECTOR=EVENT_TYPE [JSON_PROPERTIES]', "
                    "e.g. '#signup=signup_click {\"placement\": \"header\"}'")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number the Tracking API takes")


def _frozen(properties: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(properties))


@dataclass(frozen=True, slots=True)
class LinkRule:
    """One trackLink rule: clicks matching ``selector`` become ``event_type`` events.

    ``properties`` are added to every such event, then the page's default properties
    (``location``, ``os``...); :class:`RuleError` (a ``ValueError``) names what is wrong.
    """

    selector: str
    event_type: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    _parts: tuple[_Simple, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.selector, str) or not self.selector.strip():
            raise RuleError(f"a link rule needs a selector, got {self.selector!r}")
        event_type = self.event_type
        if (not isinstance(event_type, str) or not event_type or not event_type.isascii()
                or any(char.isspace() for char in event_type)):
            raise RuleError(f"link rule {self.selector!r}: the event type must be non-empty "
                            f"ASCII without spaces, got {event_type!r}")
        if not isinstance(self.properties, Mapping):
            raise RuleError(f"link rule {self.selector!r}: properties must be a JSON object, "
                            f"got {self.properties!r}")
        for name in self.properties:
            if not isinstance(name, str) or not name or not name.isascii():
                raise RuleError(f"link rule {self.selector!r}: property names must be "
                                f"non-empty ASCII, got {name!r}")
        object.__setattr__(self, "_parts", parse_selector(self.selector))
        object.__setattr__(self, "properties", _frozen(self.properties))

    def __reduce__(self) -> tuple[Any, ...]:  # picklable for worker processes
        return (LinkRule, (self.selector, self.event_type, dict(self.properties)))

    @classmethod
    def parse(cls, text: str) -> LinkRule:
        """Parse ``'a[href$=".pdf"]=download {"kind": "pdf"}'`` (the ``--link`` form)."""
        selector, rest = _split_rule(text)
        event_type, _, raw = rest.partition(" ")
        raw = raw.strip()
        properties: Any = {}
        if raw:
            try:
                properties = json.loads(raw, parse_constant=_refuse_constant)
            except ValueError as err:
                raise RuleError(f"bad --link {text!r}: the properties are not JSON: {err}") \
                    from None
            if not isinstance(properties, dict):
                raise RuleError(f"bad --link {text!r}: the properties must be a JSON object, "
                                f"got {raw}")
        return cls(selector, event_type.strip(), properties)

    def matches(self, push: Mapping[str, Any]) -> bool:
        """Whether this rule fires on ``push`` (a GTM click push)."""
        return any(part.matches(push) for part in self._parts)


def link_events(rules: Sequence[LinkRule], push: Any) -> list[TrackEvent]:
    """One event per rule matching ``push``, in rule order (none unless a GTM click push)."""
    if not rules or type(push) is not dict or push.get("event") not in CLICK_EVENTS:
        return []
    return [TrackEvent(rule.event_type, rule.properties) for rule in rules if rule.matches(push)]
