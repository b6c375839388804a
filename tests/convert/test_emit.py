"""The emitter groups the compiled mapping's events exactly as it groups the model's: the same
events under the same transaction, whatever ``--kind`` and the duplicate check ask for."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ga_ee_bridge.convert.emit import Emitter
from ga_ee_bridge.convert.encoders import encode_command
from ga_ee_bridge.convert.options import ConvertOptions
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.readers import ua
from ga_ee_bridge.testing import strategies as gst


def _shown(groups: list[tuple[str | None, list[Any]]]) -> list[Any]:
    return [(transaction, [(e.event_type, list(e.properties_dict().items())) for e in events])
            for transaction, events in groups]


@pytest.mark.parametrize("kind", ["all", "detail", "purchase", "refund"])
@pytest.mark.parametrize("keep_duplicates", [False, True])
@settings(max_examples=60)
@given(obj=st.one_of(gst.ecommerce(dirty=False), gst.ecommerce(dirty=False, kinds=["purchase"])))
def test_compiled_groups_are_the_models_groups(kind: str, keep_duplicates: bool,
                                               obj: dict[str, Any]) -> None:
    emitter = Emitter(ConvertOptions(kind=kind, keep_duplicates=keep_duplicates),
                      encode_command)
    assert emitter.compiled is not None
    compiled = emitter.compiled(obj)
    try:
        parsed = ua.read_ecommerce(obj)
    except EcommerceError:
        assert compiled is None
        return
    if compiled is not None:
        assert _shown(emitter.compiled_groups(compiled)) == _shown(emitter.groups(parsed))


def test_a_section_the_kind_leaves_out_gives_an_empty_group() -> None:
    emitter = Emitter(ConvertOptions(kind="detail"), encode_command)
    assert emitter.compiled is not None
    compiled = emitter.compiled({"add": {"products": [{"id": "P1"}]}})
    assert compiled is not None
    assert emitter.compiled_groups(compiled) == [(None, [])]
