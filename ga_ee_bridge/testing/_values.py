"""Scalar values for the strategies: money, counts and text, each as pushed and as meant.

Each ``*_pairs`` strategy draws ``(value as pushed, value it stands for)``; with ``dirty=True`` the
pushed value carries the dirt real shops push (``"$275.00"``, ``"1.299,00"``, numeric ids).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = [
    "ABSENT",
    "WORDS",
    "Pair",
    "check_decimals",
    "count_pairs",
    "field_pair",
    "money",
    "money_pair_draw",
    "money_pairs",
    "text_pairs",
]

#: A (value as pushed, value it stands for) pair; the second is None when the field is absent.
Pair = tuple[Any, Any]
ABSENT: Any = object()  # as a pushed value: leave the key out


def _group(digits: str, sep: str) -> str:
    """``"1299000"`` -> ``"1,299,000"`` for ``sep=","``."""
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return sep.join(parts)


def _money_text(cents: int, style: str) -> str:
    whole, frac = divmod(cents, 100)
    digits, two = str(whole), f"{frac:02d}"
    if style == "plain":
        return f"{digits}.{two}"
    if style == "dollar":
        return f"${digits}.{two}"
    if style == "code":
        return f"EUR {_group(digits, '.')},{two}"
    if style == "suffix":
        return f"{digits},{two} Kč"
    if style == "en":
        return f"{_group(digits, ',')}.{two}"
    if style == "de":
        return f"{_group(digits, '.')},{two}"
    if style == "fr":
        return f"{_group(digits, ' ')},{two}"
    if style == "fr-nbsp":
        return f"{_group(digits, chr(0x202F))},{two}"
    if style == "ch":
        return _group(digits, "'") + f".{two}"
    if style == "padded":
        return f" {digits}.{two} "
    raise ValueError(style)


_DIRTY_MONEY_STYLES = (
    "plain", "dollar", "code", "suffix", "en", "de", "fr", "fr-nbsp", "ch", "padded",
)
_CENTS = st.one_of(
    st.just(0), st.integers(1, 2_000), st.integers(100_000, 99_999_999), st.integers(0, 200_000_000)
)


def check_decimals(decimals: int | None) -> None:
    if decimals is not None and not 0 <= decimals <= 6:
        raise ValueError(f"decimals must be None or 0 to 6, got {decimals!r}")


def money_pairs(*, dirty: bool = True, decimals: int | None = None) -> st.SearchStrategy[Pair]:
    """``(value as pushed, float it stands for)`` for a price, revenue, tax or shipping.

    Clean: a JSON number or a plain decimal string (``"15.25"``, as Google's examples quote).
    Dirty adds currency text and thousands separators (``"$275.00"``, ``"2,698.00"``,
    ``"1 299,00"``, ``"1.299,00"``, ``"299,00 Kč"``). Zero is drawn often: it must survive.

    ``decimals`` (0 to 6; None: any float) bounds the decimal places of every value, for forms
    that store money as fixed point: BigQuery's export keeps micros, so ``decimals=6`` draws only
    amounts it holds exactly.
    """
    check_decimals(decimals)
    return money_pair_draw(dirty, decimals)


@st.composite
def money_pair_draw(draw: st.DrawFn, dirty: bool, decimals: int | None) -> Pair:
    cents = draw(_CENTS)
    if decimals is not None and decimals < 2:
        cents -= cents % 10 ** (2 - decimals)
    value = cents / 100
    form = draw(st.sampled_from(("number", "int", "float", "text") if not dirty else (
        "number", "int", "float", "text", "dirty", "dirty", "dirty",
    )))
    if form == "number":
        return value, value
    if form == "int":
        return cents // 100, float(cents // 100)
    if form == "float":
        number = draw(st.floats(0, 1e9, allow_nan=False, allow_infinity=False))
        if decimals is not None:
            number = round(number, decimals)
        return number, number
    if form == "text":
        return _money_text(cents, "plain"), value
    return _money_text(cents, draw(st.sampled_from(_DIRTY_MONEY_STYLES))), value


def money(*, dirty: bool = True, decimals: int | None = None) -> st.SearchStrategy[Any]:
    """A money value as pushed (see :func:`money_pairs` for the value it stands for)."""
    return money_pairs(dirty=dirty, decimals=decimals).map(lambda pair: pair[0])


@st.composite
def count_pairs(
    draw: st.DrawFn, *, dirty: bool = True, min_value: int = 0, max_value: int = 20
) -> Pair:
    """``(value as pushed, int)`` for a quantity, position or step: ``3``, or dirty ``"3"``."""
    number = draw(st.integers(min_value, max_value))
    if not dirty:
        return number, number
    form = draw(st.sampled_from(("int", "int", "text", "padded", "float", "float-text")))
    raw: Any = {
        "int": number, "text": str(number), "padded": f" {number} ",
        "float": float(number), "float-text": f"{number}.0",
    }[form]
    return raw, number


WORDS = st.sampled_from((
    "Triblend Android T-Shirt", "Google", "Apparel/T-Shirts", "Gray", "SUMMER_SALE", "FedEx",
    "Search Results", "Online Store", "Visa", "Kč ü 日本", "banner1", "slot1", "A / B, C",
))
_TEXT = st.one_of(WORDS, st.text(min_size=1, max_size=12))


@st.composite
def text_pairs(draw: st.DrawFn, *, dirty: bool = True, kind: str = "text") -> Pair:
    """``(value as pushed, text it stands for)``; ``kind="id"`` also draws numeric ids when dirty.

    The text stood for is the pushed text trimmed; blank text stands for None (absent).
    """
    if dirty and draw(st.integers(0, 3)) == 0:
        number = draw(st.integers(0, 10**13) if kind == "id" else st.integers(0, 999))
        return number, str(number)
    if kind == "id":
        raw = draw(st.one_of(st.from_regex(r"[A-Z]{0,3}[0-9]{1,6}", fullmatch=True), _TEXT))
    else:
        raw = draw(_TEXT)
    if dirty and draw(st.booleans()):
        raw = f" {raw} "
    return raw, raw.strip() or None


def _pair_for(
    draw: st.DrawFn, type_: str, key: str, dirty: bool, decimals: int | None = None
) -> Pair:
    if type_ == "money":
        return draw(money_pair_draw(dirty, decimals))
    if type_ == "count":
        if key == "step":
            return draw(count_pairs(dirty=dirty, min_value=1, max_value=6))
        if key == "quantity":
            return draw(count_pairs(dirty=dirty, min_value=0, max_value=10))
        return draw(count_pairs(dirty=dirty, min_value=0, max_value=50))
    return draw(text_pairs(dirty=dirty, kind=type_))


def field_pair(
    draw: st.DrawFn, type_: str, key: str, dirty: bool, *, required: bool = False,
    decimals: int | None = None,
) -> Pair:
    """A field's pair, sometimes absent or blank (``""``, or ``null`` when dirty)."""
    if not required:
        choice = draw(st.integers(0, 5))
        if choice == 0:
            return ABSENT, None
        if choice == 1:
            return draw(st.sampled_from(("", None, " ") if dirty else ("",))), None
    raw, value = _pair_for(draw, type_, key, dirty, decimals)
    while required and value is None:
        raw, value = _pair_for(draw, type_, key, dirty, decimals)
    return raw, value
