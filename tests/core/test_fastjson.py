"""core/fastjson.py: the one switch for orjson (installed with the extra ``fast``)."""

from __future__ import annotations

import pytest

from ga_ee_bridge.core.fastjson import ENV, fast_json


def test_orjson_is_offered_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    orjson = pytest.importorskip("orjson")
    monkeypatch.delenv(ENV, raising=False)
    assert fast_json() is orjson


@pytest.mark.parametrize("value", ["stdlib", " STDLIB\n"])
def test_the_environment_asks_for_the_standard_library(monkeypatch: pytest.MonkeyPatch,
                                                       value: str) -> None:
    monkeypatch.setenv(ENV, value)
    assert fast_json() is None


def test_without_orjson_the_standard_library_does_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson raises ImportError
    assert fast_json() is None
