"""Timestamps: seconds, milliseconds or microseconds by magnitude; ISO 8601, naive meaning UTC."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ga_ee_bridge.core.timestamps import (
    TimestampError,
    micros_to_seconds,
    next_stamp,
    next_stamp_texts,
    to_micros,
)

SECOND = 1_709_294_400  # 2024-03-01T12:00:00Z


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        (SECOND, SECOND * 1_000_000),
        (SECOND + 0.25, SECOND * 1_000_000 + 250_000),
        (SECOND * 1000 + 123, SECOND * 1_000_000 + 123_000),
        (SECOND * 1_000_000 + 7, SECOND * 1_000_000 + 7),
        (str(SECOND * 1000), SECOND * 1_000_000),
        (" 1709294400.5 ", SECOND * 1_000_000 + 500_000),
        ("2024-03-01T12:00:00Z", SECOND * 1_000_000),
        ("2024-03-01T13:00:00+01:00", SECOND * 1_000_000),
        ("2024-03-01T12:00:00", SECOND * 1_000_000),  # naive means UTC
        ("2024-03-01T12:00:00.123456Z", SECOND * 1_000_000 + 123_456),
        ("2024-03-01", SECOND * 1_000_000 - 12 * 3600 * 1_000_000),
    ],
)
def test_accepted_forms(value, micros):
    assert to_micros(value) == micros


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "not a timestamp"),
        (None, "not a timestamp"),
        ({"t": 1}, "not a timestamp"),
        (-5, "negative"),
        (math.nan, "not a finite number"),
        (SECOND * 10**9, "too large"),  # nanoseconds are refused, not guessed
        ("yesterday", "not a timestamp: 'yesterday'"),
        ("1969-12-31T00:00:00Z", "before 1970"),
    ],
)
def test_refused_values_say_what_they_are(value, message):
    with pytest.raises(TimestampError, match=message):
        to_micros(value)


# From March 1973 on (1e8 s), every unit's magnitude range is unambiguous.
@given(st.integers(min_value=100_000_000, max_value=4_000_000_000))
def test_the_same_instant_in_every_unit_reads_the_same(seconds):
    expected = seconds * 1_000_000
    assert to_micros(seconds) == expected
    assert to_micros(seconds * 1000) == expected
    assert to_micros(seconds * 1_000_000) == expected


@given(st.integers(min_value=0, max_value=4_000_000_000_000))
def test_millisecond_steps_print_exactly(millis):
    seconds = micros_to_seconds(millis * 1000)
    assert repr(seconds) == repr(millis / 1000)
    assert round(seconds * 1000) == millis


def _stamps(last: int, ts: int, count: int) -> tuple[list[str], int]:
    """What next_stamp_texts must give: next_stamp again and again, each float's repr."""
    expected = []
    at = last
    for _ in range(count):
        at = next_stamp(at, ts)
        expected.append(repr(micros_to_seconds(at)))
    return expected, at


@given(last=st.integers(0, 2**52), ts=st.integers(0, 2**52), count=st.integers(1, 30))
def test_next_stamp_texts_is_next_stamp_again_and_again(last: int, ts: int, count: int) -> None:
    assert next_stamp_texts(last, ts, count) == _stamps(last, ts, count)


# Whole milliseconds (the texts written without a float): any second up to 2**33 and around it,
# and beyond 2**43 (floats more than 1 ms apart); any millisecond; groups that end in the same
# second or cross into the next one.
@given(seconds=st.integers(0, 2**33 + 5) | st.sampled_from([0, 2**33 - 1, 2**33, 2**43 + 1]),
       millis=st.integers(0, 999), last=st.integers(0, 3) | st.integers(0, 2**52),
       count=st.integers(1, 1200))
def test_stamps_on_whole_milliseconds_are_the_floats_repr(seconds: int, millis: int, last: int,
                                                        count: int) -> None:
    ts = seconds * 1_000_000 + millis * 1000
    assert next_stamp_texts(last, ts, count) == _stamps(last, ts, count)


def test_every_millisecond_of_a_second_is_written_as_its_float() -> None:
    for second in (1, 59, SECOND, 2**33 - 1):
        texts, _ = next_stamp_texts(0, second * 1_000_000, 1000)
        assert texts == [repr((second * 1_000_000 + n * 1000) / 1_000_000) for n in range(1000)]
