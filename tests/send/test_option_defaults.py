"""The clients spell their options out (for typing and help); their defaults must not drift apart."""

import inspect

import pytest

from ga_ee_bridge.send.async_client import AsyncExponea
from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.sender_base import SenderBase


def _defaults(call) -> dict:
    return {name: p.default for name, p in inspect.signature(call).parameters.items()
            if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("other", [AsyncExponea, SenderBase], ids=["AsyncExponea", "SenderBase"])
def test_shared_options_have_one_default(other) -> None:
    ours, theirs = _defaults(Exponea), _defaults(other)
    shared = (set(ours) & set(theirs)) - {"transport"}
    assert len(shared) >= 8
    assert {name: ours[name] for name in shared} == {name: theirs[name] for name in shared}


def test_every_option_of_the_sync_client_exists_on_the_async_one() -> None:
    assert set(_defaults(Exponea)) == set(_defaults(AsyncExponea))
