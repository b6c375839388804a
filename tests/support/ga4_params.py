"""Strategies of GA4 event params, clean and dirty, for the tests that compare a compiled path
with the schemas' (``tests/readers/test_event_plan.py``, ``tests/mappings/test_compiled_ga4.py``)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ga_ee_bridge.readers import ga4

__all__ = ["CLEAN_ITEM", "CLEAN_TEXT", "DIRTY", "ODD_KEYS", "event_params"]

CLEAN_TEXT = st.sampled_from(["SKU-1", "Shirt", "Acme", "Apparel", "Black", "Search", "T-1"])
DIRTY = st.one_of(
    st.none(), st.sampled_from(["", "  ", " Shirt ", "9.50", "$1,299.00", "n/a", "-3", "2.0",
                                "inf", "1e5", "eur"]),
    st.integers(-5, 30), st.integers(2**53 - 1, 2**60), st.floats(allow_nan=True),
    st.booleans(), st.just(["x"]), st.just({"a": 1}),
)


def _clean_value(kind: type) -> st.SearchStrategy[Any]:
    if kind is ga4.Money:
        return st.one_of(st.floats(0, 1e6, allow_nan=False), st.integers(0, 10**6),
                         st.sampled_from(["9.50", "120", "0.99"]))
    if kind is ga4.Count:
        return st.integers(0, 50)
    if kind is ga4.Currency:
        return st.sampled_from(["EUR", "USD", "CZK"])
    return CLEAN_TEXT


def _object(table: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = [key for key in table if "_category_" not in key]  # one spelling a role
    return st.lists(st.sampled_from(keys), unique=True, max_size=12).flatmap(
        lambda chosen: st.fixed_dictionaries(
            {key: _clean_value(table[key][1]) for key in chosen}))


CLEAN_ITEM = _object(ga4.ITEM_KEYS).map(lambda obj: {"item_id": "SKU-9", **obj})
ODD_KEYS = ["item_foo", "dimension1", "items_x"]


def _clean_params(event: str) -> st.SearchStrategy[dict[str, Any]]:
    params = st.tuples(_object(ga4.PARAM_KEYS), st.lists(CLEAN_ITEM, max_size=4)).map(
        lambda pair: {**pair[0], "items": pair[1]})
    if event in ("purchase", "refund"):
        params = params.map(lambda obj: {"transaction_id": "T-1", **obj})
    return params


@st.composite
def _dirty_params(draw: st.DrawFn, event: str) -> dict[str, Any]:
    """Clean params with one or two dirty values (any key, odd keys too, a second spelling of a
    category level, a negative index...) put in the event or in one of its items."""
    params = draw(_clean_params(event))
    for _ in range(draw(st.integers(1, 2))):
        items = params["items"]
        if type(items) is list and items and type(items[0]) is dict and draw(st.booleans()):
            target = items[draw(st.integers(0, len(items) - 1))]  # (items are all dicts)
            key = draw(st.sampled_from([*ga4.ITEM_KEYS, *ODD_KEYS]))
            odd = draw(st.sampled_from(["value", "both spellings", "negative index"]))
            if odd == "both spellings":  # a category level under both spellings
                level = draw(st.integers(2, 5))
                target[f"item_category{level}"] = draw(CLEAN_TEXT)
                key = f"item_category_{level}"
            elif odd == "negative index":
                target["index"] = draw(st.integers(-3, -1))
                continue
        else:
            target = params
            key = draw(st.sampled_from([*ga4.PARAM_KEYS, *ODD_KEYS, "items"]))
        target[key] = draw(DIRTY | CLEAN_TEXT)
    return params


def event_params(event: str, dirty: bool) -> st.SearchStrategy[dict[str, Any]]:
    return _dirty_params(event) if dirty else _clean_params(event)
