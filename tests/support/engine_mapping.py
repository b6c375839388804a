"""A mapping made at run time by a test, importable by name in any worker process."""

from dataclasses import dataclass, replace

from ga_ee_bridge.mappings import MAPPINGS


@dataclass(frozen=True)
class Shouting:
    """The ``sdk`` mapping with event types in capitals: a user's own mapping."""

    name: str = "shouting"
    tracked_via: str = "engine-test"

    def events(self, ecommerce, kinds, *, tracked_via):
        events = MAPPINGS["sdk"].events(ecommerce, kinds, tracked_via=tracked_via)
        return [replace(event, event_type=event.event_type.upper()) for event in events]
