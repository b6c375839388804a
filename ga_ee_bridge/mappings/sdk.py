"""``sdk``: the web SDK's taxonomy with its data faults fixed.

Typed values (money as numbers, quantity/position/step as integers), zeros kept, empty values left
out, custom ``dimensionN``/``metricN`` kept, ``tracked_via: ecommerce``.
"""

from __future__ import annotations

from typing import Any

from ga_ee_bridge.core.model import Ecommerce
from ga_ee_bridge.mappings.taxonomy import TaxonomyMapping, typed

__all__ = ["SDK"]


def _currency(ecommerce: Ecommerce) -> Any:
    return ecommerce.currency_code


SDK = TaxonomyMapping(
    name="sdk", tracked_via="ecommerce", read=typed, currency=_currency, keep_custom=True
)
