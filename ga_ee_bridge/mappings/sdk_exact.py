"""``sdk-exact``: byte for byte what the web SDK v3.15.0 sends, quirks included.

Values as pushed (``"15.25"`` stays text), copied only when JavaScript calls them truthy (so ``0``
and ``""`` vanish), only the SDK's whitelisted fields, ``tracked_via: eecommerce``. For data that
must match what the browser SDK already tracked. The reader's structural repairs (a flat product
where a list belongs) still apply.
"""

from __future__ import annotations

from typing import Any

from ga_ee_bridge.core.model import Ecommerce, FieldObject
from ga_ee_bridge.mappings.taxonomy import TaxonomyMapping

__all__ = ["SDK_EXACT", "js_truthy"]


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness of a JSON value: 0, "", null, false and NaN are false."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == value and value != 0  # NaN is falsy
    if isinstance(value, str):
        return value != ""
    return True  # true, lists and objects, even empty ones


def _as_pushed(source: FieldObject, key: str) -> Any:
    if key == "value" and getattr(source, "value", None) is None:
        return None  # GA4's value: read only where a reader understood it, never from UA data
    value = source.raw.get(key)
    return value if js_truthy(value) else None


def _currency_as_pushed(ecommerce: Ecommerce) -> Any:
    currency = ecommerce.raw_currency_code
    return currency if js_truthy(currency) else None


SDK_EXACT = TaxonomyMapping(
    name="sdk-exact", tracked_via="eecommerce", read=_as_pushed, currency=_currency_as_pushed,
    keep_custom=False,
)
