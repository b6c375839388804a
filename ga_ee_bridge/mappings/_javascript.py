"""JavaScript's view of JSON values: truthiness, numbers as doubles printed as JS prints them.

What ``sdk-exact`` needs to send what the web SDK sends: a value the SDK copies has been through
``JSON.parse`` (numbers become doubles, object keys take JavaScript's order) and leaves through
``JSON.stringify`` (a double prints as its shortest digits, ``15`` not ``15.0``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["js_double", "js_number", "js_number_text", "js_truthy", "js_value"]

#: ``Number.prototype.toString`` writes integral doubles below this in plain digits.
_PLAIN_BELOW = 1e21
#: Integers up to 2**53 are doubles exactly: they print as their digits.
_EXACT = 2**53
#: The largest array index: keys that are its canonical digits come first, in numeric order.
_MAX_INDEX = 2**32 - 2


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness of a JSON value: 0, -0, NaN, "", null and false are false.

    Everything else is true, ``"0"``, ``"false"``, ``[]`` and ``{}`` included.
    """
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, int):
        return value != 0
    if isinstance(value, float):
        return value == value and value != 0.0  # NaN is falsy
    if isinstance(value, str):
        return value != ""
    return True


def js_double(value: int | float) -> float:
    """The double JavaScript holds for a JSON number: the nearest one (ties to even); inf beyond."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def js_number(value: int | float) -> int | float | None:
    """A number as ``JSON.stringify`` sends it, as the Python value that prints the same way.

    Integral doubles below 1e21 print as plain digits (``15.0`` -> ``15``, ``1e16`` ->
    ``10000000000000000``, 2**53 + 1 -> ``9007199254740992``), so they are returned as ``int``;
    other finite doubles stay ``float`` (``1e21`` prints ``1e+21`` in both languages). NaN and the
    infinities print as ``null``: None.
    """
    if type(value) is int and -_EXACT <= value <= _EXACT:
        return value  # the common case: an integer every double holds exactly
    double = js_double(value)
    if not math.isfinite(double):
        return None
    if double.is_integer() and abs(double) <= _EXACT:
        return int(double)
    if double.is_integer() and abs(double) < _PLAIN_BELOW:
        # Python's repr and JavaScript both give the shortest digits that read back as this
        # double; JavaScript pads them with zeros (12345678901234567891 -> 12345678901234567000).
        return int(Decimal(repr(double)))
    return double


def js_number_text(value: int | float) -> str:
    """``String(number)`` in JavaScript (ECMAScript ``Number::toString``), for a JSON number.

    Differs from Python's ``repr`` in exponents (``1e-7``, ``1e+21``) and below 1e-4
    (``0.00001``); used to document and test what the SDK's payload holds byte for byte.
    """
    double = js_double(value)
    if math.isnan(double):
        return "NaN"
    if math.isinf(double):
        return "Infinity" if double > 0 else "-Infinity"
    if double == 0:
        return "0"
    sign = "-" if double < 0 else ""
    digits, exponent = _shortest(abs(double))
    k, n = len(digits), exponent + len(digits)  # value = 0.digits * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _shortest(value: float) -> tuple[str, int]:
    """The shortest round-trip digits of a positive double and their exponent (digits * 10**e)."""
    _, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    return digits, exponent + len(digit_tuple) - len(digits)


def js_value(value: Any) -> Any:
    """A JSON value as it leaves the SDK: numbers as :func:`js_number`, objects in JS key order.

    JavaScript lists an object's array-index keys (``"2"``, ``"10"``) first, in numeric order, then
    the other keys in insertion order; nested values follow the same rules.
    """
    if value is None or type(value) is str or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return js_number(value)
    if isinstance(value, Mapping):
        keys = list(value)
        indices = sorted((key for key in keys if _is_index(key)), key=int)
        ordered = indices + [key for key in keys if not _is_index(key)] if indices else keys
        return {key: js_value(value[key]) for key in ordered}
    if isinstance(value, list | tuple):
        return [js_value(item) for item in value]
    return value


def _is_index(key: Any) -> bool:
    """Whether an object key is an array index: canonical digits (``"12"``, not ``"012"``)."""
    return (
        isinstance(key, str) and key.isdigit() and key.isascii()
        and (key == "0" or key[0] != "0") and int(key) <= _MAX_INDEX
    )
