"""``sdk``: the web SDK's taxonomy with its data faults fixed.

Typed values (money as numbers, quantity/position/step as integers), zeros kept, empty values left
out, custom ``dimensionN``/``metricN`` kept, ``tracked_via: ecommerce``.
"""

from __future__ import annotations

from ga_ee_bridge.mappings.taxonomy import TaxonomyMapping, typed, typed_currency

__all__ = ["SDK"]


SDK = TaxonomyMapping(
    name="sdk", tracked_via="ecommerce", read=typed, currency=typed_currency, keep_custom=True
)
