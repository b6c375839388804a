"""Every fixture of fixtures/ga4 and fixtures/gtag converts to the events derived by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import REPO

from ga_ee_bridge import to_exponea_events
from ga_ee_bridge.readers import detect_source, read_push

FIXTURES = REPO / "fixtures"
FILES = sorted([*FIXTURES.glob("ga4/*.json"), *FIXTURES.glob("gtag/*.json")])


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_fixtures_exist() -> None:
    assert len([f for f in FILES if f.parent.name == "ga4"]) >= 12
    assert len([f for f in FILES if f.parent.name == "gtag"]) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_fixture(path: Path, strict: bool) -> None:
    fixture = _load(path)
    assert set(fixture) == {"description", "source", "kind", "input", "expected"}
    push = fixture["input"]
    expected = fixture["expected"]
    events = to_exponea_events(push, fixture["kind"], strict=strict)
    got = [{"event_type": e.event_type, "properties": dict(e.properties)} for e in events]
    assert got == expected["sdk"]
    if "dropped" in expected:
        assert list(events.dropped) == expected["dropped"]
    form = expected.get("form", path.parent.name)
    assert detect_source(push) == form
    parsed = read_push(push, strict=strict)
    assert parsed.source == form
    assert parsed.unsupported_event == expected.get("unsupported_event")
