"""fixtures/bloomreach: Google's documented payloads (UA and GA4) give the hand-written events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import REPO

from ga_ee_bridge import parse_ecommerce, to_exponea_events
from ga_ee_bridge.core.model import KINDS
from ga_ee_bridge.mappings.bloomreach import PROPERTIES

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


def _documented_name(name: str) -> str:
    return "category_1`..`category_N" if name.startswith("category_") else name


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_the_generated_table_lists_every_property_in_order(path: Path) -> None:
    fixture = json.loads(path.read_text(encoding="utf-8"))
    kinds = list(parse_ecommerce(fixture["input"]).sections)
    events = to_exponea_events(fixture["input"], fixture["kind"], mapping="bloomreach")
    for event in events:
        rows = [rows for (kind, name), rows in PROPERTIES.items()
                if name == event.event_type and kind in kinds]
        if not rows:
            continue  # an sdk event, documented in its own section
        documented = ["tracked_via"] + [name for name, _ in rows[0]]
        names = []
        for name in event.properties:
            name = _documented_name(name)
            if not names or names[-1] != name:
                names.append(name)
        positions = [documented.index(name) for name in names]
        assert positions == sorted(positions), (event.event_type, names)
