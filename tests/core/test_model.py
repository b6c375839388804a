"""The model's fast constructor makes the very objects the dataclass constructor makes."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ga_ee_bridge.core.events import TrackEvent
from ga_ee_bridge.core.model import (
    ActionField,
    Ecommerce,
    Impression,
    Product,
    Promotion,
    Section,
    maker,
)

_CLASSES = [Product, Impression, Promotion, ActionField, Section, Ecommerce, TrackEvent]
_VALUES = st.one_of(st.none(), st.text(max_size=5), st.integers(), st.floats(allow_nan=False))


@pytest.mark.parametrize("cls", _CLASSES, ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_maker_equals_the_constructor(cls: type, data: st.DataObject) -> None:
    names = [spec.name for spec in dataclasses.fields(cls)]
    values = [data.draw(_VALUES) for _ in names]
    if cls is TrackEvent:  # what its constructor checks, and the read-only mapping it makes
        values = ["product_add_to_cart", MappingProxyType({"price": values[1]}), None]
    made = maker(cls)(*values)
    assert made == cls(**dict(zip(names, values, strict=True)))
    assert type(made) is cls
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, names[0], None)


def test_maker_takes_every_field_and_is_built_once() -> None:
    with pytest.raises(TypeError):
        maker(Section)("detail")
    assert maker(Section) is maker(Section)


def test_the_ga4_readers_positional_product_follows_the_models_field_order() -> None:
    from ga_ee_bridge.readers._events import PRODUCT_ROLES

    names = [spec.name for spec in dataclasses.fields(Product)]
    assert names == ["raw", "custom", "dropped", *PRODUCT_ROLES]


def test_the_ga4_readers_positional_impression_follows_the_models_field_order() -> None:
    from ga_ee_bridge.readers._events import IMPRESSION_ROLES

    names = [spec.name for spec in dataclasses.fields(Impression)]
    assert names == ["raw", "custom", "dropped", *IMPRESSION_ROLES]
