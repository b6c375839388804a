"""fixtures/bloomreach: Google's documented payloads (UA and GA4) give the hand-written events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import REPO

from ga_ee_bridge import to_exponea_events
from ga_ee_bridge.core.model import KINDS

FILES = sorted((REPO / "fixtures" / "bloomreach").glob("*.json"))


def _ordered(events):
    return [(e["event_type"], list(e["properties"].items())) for e in events]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text(encoding="utf-8"))
    events = to_exponea_events(fixture["input"], fixture["kind"], mapping="bloomreach")
    got = [(e.event_type, list(e.properties.items())) for e in events]
    assert got == _ordered(fixture["expected"]["bloomreach"])


def test_one_fixture_per_kind_and_ga4_input() -> None:
    names = {path.stem for path in FILES}
    assert set(KINDS) <= names
    assert {"ga4-view_item", "ga4-add_to_cart", "ga4-purchase", "ga4-refund"} <= names
