"""The one lenient number parser: what real shops push as prices, quantities and steps.

GA's own rule for currency values drops "all text up until the first digit, the - character or the
. character" (``"$-55.00"`` is -55.0). GA then misreads thousands separators (``"2,698.00"`` becomes
2.698); we read them as a person would:

- spaces, no-break spaces and apostrophes between digits are thousands separators (``"1 299,00"``);
- when both ``,`` and ``.`` appear, the last one is the decimal separator (``"1.299,00"``,
  ``"2,698.00"``);
- a comma appearing more than once, or a dot appearing more than once, separates thousands
  (``"1,234,567"``, ``"1.234.567"``);
- a lone comma followed by exactly three digits separates thousands (``"1,234"`` is 1234.0, as an
  English-language shop writes it; three-decimal prices are rare), any other lone comma is the
  decimal separator (``"12,99"`` is 12.99, ``"0,125"`` is 0.125);
- a lone dot is always the decimal separator (``"1.299"`` is 1.299), as in JSON and JavaScript.

Text after the number (``"12.99 EUR"``) is dropped too. Anything else is not a number.

Every result is what the Tracking API can store: a finite float, or an integer within
:data:`MAX_SAFE_INTEGER` (2**53) in magnitude; anything larger is a :class:`NumberError`
("number too large"), never a 401-digit integer.
"""

from __future__ import annotations

import math
import re

from ga_ee_bridge.errors import NumberError, show

__all__ = [
    "MAX_SAFE_INTEGER",
    "NumberError",
    "check_int",
    "parse_int",
    "parse_int_text",
    "parse_number",
    "plain_number",
]

#: The largest integer a JSON number (an IEEE 754 double) holds exactly: JavaScript's
#: ``Number.MAX_SAFE_INTEGER`` + 1. Integers beyond it in magnitude are refused.
MAX_SAFE_INTEGER = 2**53
#: Decimal text longer than this is refused before it is converted (Python's own limit is 4,300).
_MAX_DIGITS = 400

_LEAD = re.compile(r"^[^0-9.\-]*")
_TRAIL = re.compile(r"[^0-9]*$")
_GROUPING = re.compile(r"(?<=\d)[\s\u00a0\u202f'’](?=\d)")
_PLAIN = re.compile(r"-?(?:\d+\.?\d*|\.\d+)")
_THOUSANDS_COMMA = re.compile(r"-?\d{1,3},\d{3}")


def _normalise(text: str) -> str | None:
    """Return ``text`` as a plain ``-123.45`` string, or None when it is not a number."""
    body = _LEAD.sub("", text.strip(), count=1)
    if not body:
        return None
    body = _TRAIL.sub("", body, count=1) if not body[-1].isdigit() else body
    # A trailing "." or "," after digits ("5.") was stripped above only when followed by text;
    # restore nothing: "5." reads as 5.
    body = _GROUPING.sub("", body)
    commas, dots = body.count(","), body.count(".")
    if commas and dots:
        if body.rfind(",") > body.rfind("."):
            body = body.replace(".", "").replace(",", ".")
        else:
            body = body.replace(",", "")
    elif commas > 1:
        body = body.replace(",", "")
    elif commas == 1:
        if _THOUSANDS_COMMA.fullmatch(body) and body.lstrip("-")[:2] != "0,":
            body = body.replace(",", "")
        else:
            body = body.replace(",", ".")
    elif dots > 1:
        body = body.replace(".", "")
    if body.count(".") > 1 or not _PLAIN.fullmatch(body):
        return None
    return body


def plain_number(text: str) -> bool:
    """True when ``text`` is a plain decimal number (``"15.25"``, ``"-3"``) needing no repair."""
    return _PLAIN.fullmatch(text) is not None


def parse_number(value: object, *, strict: bool = False) -> float:
    """Read ``value`` as a finite float, or raise :class:`NumberError` naming the value.

    Strict mode accepts JSON numbers and plain decimal strings (Google's own examples quote prices:
    ``'15.25'``); lenient mode also applies the currency and separator rules above.
    """
    if isinstance(value, bool):
        raise NumberError(f"not a number: {show(value)}")
    if isinstance(value, int | float):
        try:
            result = float(value)
        except OverflowError:  # json.loads reads "1000...0" (400 digits) as an int
            raise NumberError(f"not a finite number: {show(value)}") from None
    elif isinstance(value, str):
        text = value.strip()
        if plain_number(text):
            result = float(text)
        elif strict:
            raise NumberError(
                f"not a plain number (lenient mode would repair it): {show(value)}"
            )
        else:
            normal = _normalise(text)
            if normal is None:
                raise NumberError(f"not a number: {show(value)}")
            result = float(normal)
    else:
        raise NumberError(f"not a number: {show(value)}")
    if not math.isfinite(result):
        raise NumberError(f"not a finite number: {show(value)}")
    return result


def parse_int(value: object, *, strict: bool = False) -> int:
    """Read ``value`` as an integer, or raise :class:`NumberError` naming the value.

    Strict mode accepts only JSON integers. Lenient mode also reads whole floats (``2.0``) and
    strings (``"1"``, ``"2.0"``); a fraction is never rounded away.
    """
    if isinstance(value, bool):
        raise NumberError(f"not an integer: {show(value)}")
    if isinstance(value, int):
        return check_int(value)
    if strict:
        raise NumberError(f"not an integer (lenient mode would repair it): {show(value)}")
    try:
        number = parse_number(value)
    except NumberError:
        raise NumberError(f"not an integer: {show(value)}") from None
    if not number.is_integer():
        raise NumberError(f"not an integer: {show(value)}")
    return check_int(int(number), value)


def check_int(number: int, shown: object = None, *, limit: int = MAX_SAFE_INTEGER) -> int:
    """``number`` itself when within ``limit`` (default 2**53) in magnitude, else NumberError."""
    if -limit <= number <= limit:
        return number
    raise NumberError(f"number too large: {show(number if shown is None else shown)}")


def parse_int_text(text: str, *, limit: int = MAX_SAFE_INTEGER) -> int:
    """Read decimal integer text (``" -12 "``) exactly, within ``limit`` (default 2**53).

    The text must already match ``\\s*-?\\d+\\s*``; NumberError when it is too large.
    """
    body = text.strip()
    if len(body.lstrip("-").lstrip("0")) > _MAX_DIGITS:
        raise NumberError(f"number too large: {show(text)}")
    return check_int(int(body), text, limit=limit)
