"""numbers.parse_number / parse_int: every rule of the module docstring, strict and lenient."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ga_ee_bridge import EcommerceError, parse_ecommerce
from ga_ee_bridge.core.numbers import (
    NumberError,
    parse_int,
    parse_int_text,
    parse_number,
    plain_number,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # GA's currency rule: text before the first digit, "-" or "." is dropped
        ("$275.00", 275.0),
        ("$-55.00", -55.0),
        ("EUR 12.5", 12.5),
        ("US$ .5", 0.5),
        ("£0.99", 0.99),
        # text after the number is dropped too
        ("12.99 EUR", 12.99),
        ("299 Kč", 299.0),
        ("12,99 €", 12.99),
        # spaces, no-break spaces and apostrophes between digits separate thousands
        ("1 299,00", 1299.0),
        ("1\u00a0299,00", 1299.0),
        ("1\u202f299,00", 1299.0),
        ("1'299.00", 1299.0),
        ("1’299.00", 1299.0),
        ("12 345 678", 12345678.0),
        # both "," and ".": the last one is the decimal separator
        ("1.299,00", 1299.0),
        ("2,698.00", 2698.0),
        ("4,245.42", 4245.42),
        ("1.234.567,89", 1234567.89),
        ("1,234,567.89", 1234567.89),
        # a comma more than once, or a dot more than once, separates thousands
        ("1,234,567", 1234567.0),
        ("1.234.567", 1234567.0),
        # a lone comma followed by exactly three digits separates thousands...
        ("1,234", 1234.0),
        ("-1,234", -1234.0),
        ("999,000", 999000.0),
        # ...any other lone comma is the decimal separator
        ("12,99", 12.99),
        ("0,125", 0.125),
        ("1,2345", 1.2345),
        ("1234,567", 1234.567),
        ("1,5", 1.5),
        # a lone dot is always the decimal separator, as in JSON
        ("1.299", 1.299),
        ("15.25", 15.25),
        (".5", 0.5),
        ("-3", -3.0),
        ("5.", 5.0),
        ("  42  ", 42.0),
    ],
)
def test_lenient_rules(text: str, value: float) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    "text", ["", "   ", "abc", "free", "N/A", "-", ".", "$", "1e5", "nan", "inf", "Infinity",
             "1,2,3.4,5", "1-2", "--1"],
)
def test_lenient_refuses_what_is_not_a_number_and_names_it(text: str) -> None:
    with pytest.raises(NumberError) as info:
        parse_number(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("value", [True, False, None, [], [1], {}, {"v": 1}, b"1"])
@pytest.mark.parametrize("strict", [False, True])
def test_non_numbers_and_bools_are_refused_in_both_modes(value: Any, strict: bool) -> None:
    with pytest.raises(NumberError, match="not a number"):
        parse_number(value, strict=strict)
    with pytest.raises(NumberError, match="not an integer"):
        parse_int(value, strict=strict)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "1" + "0" * 400])
@pytest.mark.parametrize("strict", [False, True])
def test_nan_and_infinity_are_refused(value: Any, strict: bool) -> None:
    with pytest.raises(NumberError, match="finite"):
        parse_number(value, strict=strict)


def test_huge_int_overflowing_float_is_refused() -> None:
    # json.loads("1" + "0" * 400) is an int too large for a float: a clear error, not OverflowError
    with pytest.raises(NumberError, match="not a finite number"):
        parse_number(json.loads("1" + "0" * 400))
    with pytest.raises(NumberError, match="not a finite number"):
        parse_number(-(10**400), strict=True)


def test_huge_int_price_is_left_out_with_a_warning_naming_its_path() -> None:
    payload = json.loads(
        '{"purchase": {"actionField": {"id": "T1", "revenue": 1' + "0" * 400 + "}}}"
    )
    parsed = parse_ecommerce(payload)
    assert parsed.sections["purchase"].action_field.revenue is None
    assert [w.path for w in parsed.warnings] == ["purchase.actionField.revenue"]
    assert "not a finite number" in parsed.warnings[0].message
    with pytest.raises(EcommerceError) as info:
        parse_ecommerce(payload, strict=True)
    assert info.value.paths == ["purchase.actionField.revenue"]
    assert "not a finite number" in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"), [(15, 15.0), (15.25, 15.25), ("15.25", 15.25), (" -3 ", -3.0),
                            ("0", 0.0), (".5", 0.5)],
)
def test_strict_accepts_json_numbers_and_plain_decimal_text(value: Any, expected: float) -> None:
    assert parse_number(value, strict=True) == expected
    assert type(parse_number(value, strict=True)) is float


@pytest.mark.parametrize("text", ["$275.00", "2,698.00", "1 299,00", "1.299,00", "12,99", "1,234",
                                  "12.99 EUR", "1.234.567"])
def test_strict_refuses_what_lenient_repairs_and_says_so(text: str) -> None:
    parse_number(text)  # lenient reads it
    with pytest.raises(NumberError, match="lenient mode would repair it") as info:
        parse_number(text, strict=True)
    assert repr(text) in str(info.value)


def test_plain_number() -> None:
    assert all(plain_number(t) for t in ("15.25", "-3", ".5", "5.", "0"))
    assert not any(plain_number(t) for t in ("1,5", "$1", "1e5", "", "-", "."))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), (0, 0), (-2, -2), (2.0, 2), ("1", 1), (" 7 ", 7), ("2.0", 2), ("1,234", 1234),
     (2**53, 2**53), (-(2**53), -(2**53)), (9007199254740992.0, 2**53)],
)
def test_parse_int_lenient(value: Any, expected: int) -> None:
    result = parse_int(value)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", [2**53 + 1, -(2**53) - 1, 10**20, 10**400, 1e20,
                                   "9" * 30])
@pytest.mark.parametrize("strict", [False, True])
def test_integers_beyond_2_to_the_53_are_refused_as_too_large(value: Any, strict: bool) -> None:
    if strict and not isinstance(value, int):
        return  # strict mode refuses non-integers anyway
    with pytest.raises(NumberError, match="too large"):
        parse_int(value, strict=strict)


def test_integer_text_is_read_exactly_and_refused_when_too_large() -> None:
    assert parse_int_text(" -9007199254740992 ") == -(2**53)
    assert parse_int_text("9" * 18, limit=2**63) == 10**18 - 1
    for text in ("9007199254740993", "9" * 5000):
        with pytest.raises(NumberError, match="too large"):
            parse_int_text(text)


@pytest.mark.parametrize("value", [2.5, "2.5", "1,5", "abc", "", math.nan, math.inf])
def test_parse_int_never_rounds_a_fraction_away(value: Any) -> None:
    with pytest.raises(NumberError, match="not an integer") as info:
        parse_int(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", [2.0, "1", "3", " 3 "])
def test_parse_int_strict_accepts_only_json_integers(value: Any) -> None:
    assert parse_int(3, strict=True) == 3
    with pytest.raises(NumberError, match="lenient mode would repair it"):
        parse_int(value, strict=True)


# --- property: any separator convention reads back ------------------------------------------------

GROUPS = ("", ",", ".", " ", "\u00a0", "\u202f", "'", "’")
PREFIXES = ("", "$", "EUR ", "US$ ", "£", "€")
SUFFIXES = ("", " EUR", " Kč", "€", " zł")


def group(digits: str, sep: str) -> str:
    head = len(digits) % 3 or 3
    return sep.join([digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)])


@given(
    whole=st.integers(0, 10**12),
    frac=st.from_regex(r"[0-9]{1,6}", fullmatch=True),
    group_sep=st.sampled_from(GROUPS),
    decimal_sep=st.sampled_from((".", ",")),
    negative=st.booleans(),
    prefix=st.sampled_from(PREFIXES),
    suffix=st.sampled_from(SUFFIXES),
)
def test_any_separator_convention_reads_back(
    whole: int, frac: str, group_sep: str, decimal_sep: str, negative: bool, prefix: str,
    suffix: str,
) -> None:
    assume(group_sep != decimal_sep)
    # The documented ambiguity: "1,234" (one comma, three digits after it) is a thousands comma.
    assume(not (decimal_sep == "," and len(frac) == 3 and 0 < whole < 1000))
    sign = "-" if negative else ""
    text = f"{prefix}{sign}{group(str(whole), group_sep)}{decimal_sep}{frac}{suffix}"
    assert parse_number(text) == float(f"{sign}{whole}.{frac}")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_json_numbers_read_as_themselves(number: float) -> None:
    assert parse_number(number) == number
    assert parse_number(number, strict=True) == number
    assert parse_number(f"{number:f}", strict=True) == float(f"{number:f}")


@given(st.integers(-(10**15), 10**15))
def test_integers_read_back_from_their_text(number: int) -> None:
    assert parse_int(str(number)) == number
    assert parse_int(number, strict=True) == number
    assert parse_number(group(str(abs(number)), " ") + ",00") == float(abs(number))
