"""``sdk``: the web SDK's taxonomy with its data faults fixed.

Typed values (money as numbers, quantity/position/step as integers), zeros kept, empty values left
out, custom ``dimensionN``/``metricN`` kept, ``tracked_via: ecommerce``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ga_ee_bridge.events import TrackEvent
from ga_ee_bridge.mappings.taxonomy import ecommerce_events
from ga_ee_bridge.model import Ecommerce, FieldObject

__all__ = ["SDK", "SdkMapping"]


def _typed(source: FieldObject, key: str) -> Any:
    return getattr(source, key)


@dataclass(frozen=True)
class SdkMapping:
    """The default mapping (see the module docstring)."""

    name: str = "sdk"
    tracked_via: str = "ecommerce"

    def events(
        self, ecommerce: Ecommerce, kinds: tuple[str, ...], *, tracked_via: str
    ) -> list[TrackEvent]:
        """The events of ``kinds`` with typed values and custom dimensions and metrics."""
        return ecommerce_events(
            ecommerce, kinds, currency=ecommerce.currency_code, tracked_via=tracked_via,
            read=_typed, keep_custom=True,
        )


SDK = SdkMapping()
