"""The checks made before queueing: conversions, limits, normalisation, errors naming the key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ga_ee_bridge.send.validation import (
    check_properties,
    looks_like_email,
    normalise_customer_properties,
    to_json_value,
)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12)


@given(st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=10))
def test_properties_are_kept_or_refused_by_name(properties: dict[str, Any]) -> None:
    try:
        checked = check_properties(properties)
    except ValueError as error:
        bad = [k for k in properties if not k.isascii()]
        assert bad and f"properties.{bad[0]}" in str(error)
    else:
        assert checked == properties
        assert json.loads(json.dumps(checked)) == checked


@given(json_values)
def test_json_values_pass_unchanged(value: Any) -> None:
    assert to_json_value(value, "v") == value


@given(st.from_regex(r"\+[0-9]{8,15}", fullmatch=True),
       st.lists(st.sampled_from([" ", "-", "(", ")"]), max_size=4))
def test_phone_noise_is_removed(phone: str, noise: list[str]) -> None:
    noisy = phone[:3] + "".join(noise) + phone[3:]
    assert normalise_customer_properties({"phone": noisy}) == {"phone": phone}


def test_normalisation_errors_name_the_attribute() -> None:
    with pytest.raises(ValueError, match=r"^properties.phone: .*'\+421'"):
        normalise_customer_properties({"phone": "+421"})
    with pytest.raises(ValueError, match=r"^properties.language"):
        normalise_customer_properties({"language": 12})
    with pytest.raises(ValueError, match=r"^properties.phone"):
        normalise_customer_properties({"phone": 421905123456})


def test_looks_like_email() -> None:
    assert looks_like_email(" Gordon@Example.com ")
    assert not looks_like_email("gordon")
    assert not looks_like_email(12)


def test_big_values_are_measured_as_json() -> None:
    check_properties({"list": ["x" * 100] * 150})  # ~15.5 KB
    with pytest.raises(ValueError, match=r"properties.list: value is [\d,]+ bytes"):
        check_properties({"list": ["x" * 100] * 170})
    # Text is measured as its UTF-8 bytes (JSON escaping is transport, not the value).
    assert check_properties({"quote": '"' * 9000}) == {"quote": '"' * 9000}
    with pytest.raises(ValueError, match=r"properties\.accents: value is 16,384 bytes"):
        check_properties({"accents": "é" * 8192})
