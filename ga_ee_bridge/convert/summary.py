"""What a conversion did, for machines and for the report: the ``--summary-json`` record, and the
observations (events per type per day, customers, first examples) a report is drawn from.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ga_ee_bridge.convert.results import ConvertStats, Reject, Run, Segment

__all__ = ["Example", "Observations", "summary_record"]

#: How many examples of each reject reason or warning a report shows.
EXAMPLES = 3
_NO_DAY = "no timestamp"


def summary_record(stats: ConvertStats, *, inputs: list[str], seconds: float) -> dict[str, Any]:
    """The ``--summary-json`` record; ``pushes == ecommerce + skipped + unsupported`` holds.

    ``skipped`` counts every push without ecommerce, those that matched a ``--link`` rule
    included; ``unsupported`` every ecommerce event that was not converted: GA4 events with no UA
    counterpart and gtag.js events sent to other products only (both listed in ``warnings``).
    """
    not_for_analytics = sum(stats.not_for_analytics.values())
    return {
        "pushes": stats.pushes,
        "ecommerce": stats.ecommerce,
        "skipped": stats.skipped + stats.links,
        "unsupported": sum(stats.unsupported.values()) + not_for_analytics,
        "duplicates": stats.duplicates,
        "rejected": stats.rejected,
        "events": dict(sorted(stats.events.items())),
        "rejects_by_reason": dict(sorted(stats.rejects.items())),
        "warnings": {
            "keys_left_out": dict(stats.dropped.most_common()),
            "unsupported_events": dict(sorted(stats.unsupported.items())),
            "not_for_analytics": dict(sorted(stats.not_for_analytics.items())),
            "values_left_out": dict(stats.warnings.most_common()),
        },
        "inputs": list(inputs),
        "seconds": round(seconds, 3),
    }


@dataclass(frozen=True, slots=True)
class Example:
    """One example of a reject or warning: where (``file:line``), the paths, the messages."""

    where: str
    details: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Observations:
    """What a report shows beyond the counts, gathered from the converted items as they pass.

    ``days``: events per (UTC day, event type); customers are told apart by their ids: identified
    when they carry any id besides ``cookie``, anonymous otherwise.
    """

    days: Counter[tuple[str, str]] = field(default_factory=Counter)
    identified: set[str] = field(default_factory=set)
    anonymous: set[str] = field(default_factory=set)
    identified_events: int = 0
    anonymous_events: int = 0
    rejects: dict[str, list[Example]] = field(default_factory=dict)

    def item(self, item: Segment | Run | Reject, encoder: str) -> None:
        """Take one converted item (of the ``commands`` or ``csv`` encoder) into account."""
        if isinstance(item, Reject):
            shown = self.rejects.setdefault(item.reason, [])
            if len(shown) < EXAMPLES:
                shown.append(Example(f"{item.input}:{item.line}", tuple(
                    (path, message) for path, message, _ in item.errors)))
        elif isinstance(item, Run):
            for line in item.text.splitlines():
                self._command(json.loads(line))
        elif encoder == "csv":
            for event_type, (line, _, _) in item.events:
                ids, seconds, _ = json.loads(line)
                self._event(event_type, ids, seconds)
        else:
            for _, line in item.events:
                self._command(line if isinstance(line, dict) else json.loads(line))

    def _command(self, command: dict[str, Any]) -> None:
        data = command.get("data") or {}
        self._event(data.get("event_type", "?"), data.get("customer_ids") or {},
                    data.get("timestamp"))

    def _event(self, event_type: str, ids: dict[str, Any], seconds: float | None) -> None:
        day = _NO_DAY if seconds is None else dt.datetime.fromtimestamp(
            seconds, dt.UTC).strftime("%Y-%m-%d")
        self.days[day, event_type] += 1
        key = json.dumps(ids, sort_keys=True)
        if any(name != "cookie" for name in ids):
            self.identified.add(key)
            self.identified_events += 1
        else:
            self.anonymous.add(key)
            self.anonymous_events += 1
