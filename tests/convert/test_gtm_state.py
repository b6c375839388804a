"""GTM's data model: recursive merge, replaced values, dotted keys, ecommerce per push."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ga_ee_bridge.convert import gtm_state
from ga_ee_bridge.convert.gtm_state import DataModel, split_path


def test_objects_merge_recursively_and_other_values_are_replaced():
    model = DataModel()
    model.push({"user": {"email": "a@example.com", "tags": [1, 2]}, "page": "home"})
    model.push({"user": {"id": 7, "tags": [3]}, "page": {"type": "cart"}})
    assert model.state == {
        "user": {"email": "a@example.com", "id": 7, "tags": [3]},
        "page": {"type": "cart"},
    }


def test_dotted_keys_are_nested_paths_as_in_gtm():
    model = DataModel()
    model.push({"gtm.start": 1700000000000, "event": "gtm.js"})
    model.push({"gtm.uniqueEventId": 3})
    assert model.get("gtm.start") == 1700000000000
    assert model.state["gtm"] == {"start": 1700000000000, "uniqueEventId": 3}


def test_ecommerce_is_not_merged():
    model = DataModel()
    model.push({"ecommerce": {"purchase": {}}, "event": "purchase"})
    assert model.state == {"event": "purchase"}


def test_only_keeps_the_named_top_level_keys():
    model = DataModel(only={"user", "gtm"})
    model.push({"user": {"email": "x"}, "gtm.start": 5, "pageType": "home", "noise.deep": 1})
    assert model.state == {"user": {"email": "x"}, "gtm": {"start": 5}}


def test_pages_reading_the_same_paths_share_what_was_found_and_it_stays_bounded(monkeypatch):
    monkeypatch.setattr(gtm_state, "_DOTTED", {})
    monkeypatch.setattr(gtm_state, "_DOTTED_LIMIT", 3)
    first, second = DataModel(only={"gtm.start"}), DataModel(only={"gtm.start"})
    first.push({"gtm.start": 5, "gtm.element": 1})
    assert first._dotted is second._dotted == {"gtm.start": True, "gtm.element": False}
    second.push({f"gtm.k{n}": n for n in range(10)} | {"gtm.start": 6})
    assert len(second._dotted) == 3 and second.state == {"gtm": {"start": 6}}
    assert DataModel(only={"user.email"})._dotted is not first._dotted
    for n in range(5):  # more path sets than the limit: each page then finds on its own
        model = DataModel(only={f"a{n}.b"})
        model.push({f"a{n}.b": n, f"a{n}.c": n})
        assert model.state == {f"a{n}": {"b": n}}
    assert len(gtm_state._DOTTED) == 3


def test_pushes_are_never_mutated():
    first = {"user": {"email": "a", "address": {"city": "Brno"}}}
    second = {"user": {"address": {"zip": "60200"}}}
    kept = copy.deepcopy([first, second])
    model = DataModel(first)
    model.push(second)
    assert [first, second] == kept
    assert model.get("user.address") == {"city": "Brno", "zip": "60200"}


def test_get_missing_paths_and_non_objects_on_the_way():
    model = DataModel({"user": "anonymous"})
    assert model.get("user.email") is None
    assert model.get("nothing", "default") == "default"
    assert model.get(("user",)) == "anonymous"


@pytest.mark.parametrize("bad", ["", "user.", ".email", "a..b"])
def test_split_path_rejects_empty_segments(bad):
    with pytest.raises(ValueError, match="bad path"):
        split_path(bad)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
_keys = st.sampled_from(["a", "b", "c"])
_values = st.recursive(_scalars, lambda inner: st.dictionaries(_keys, inner, max_size=3),
                       max_leaves=8)


def _reference_merge(old, new):
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = _reference_merge(merged.get(key), value)
        return merged
    return new


@given(st.lists(st.dictionaries(_keys, _values, max_size=3), max_size=6))
def test_state_is_the_fold_of_recursive_merges(pushes):
    model = DataModel()
    expected: dict = {}
    for push in pushes:
        model.push(push)
        expected = _reference_merge(expected, push)
    assert model.state == expected
    # Whatever was pushed last at a top-level key that is not an object is what is read.
    for push in pushes[::-1]:
        for key, value in push.items():
            if not isinstance(value, dict) and not any(
                key in later for later in pushes[pushes.index(push) + 1:]
            ):
                assert model.get(key) == value
