"""Every shipped fixture converts to exactly the events it lists, properties in order."""

import json
from pathlib import Path

import pytest
from support import REPO

from ga_ee_bridge import EcommerceError, to_exponea_events

ROOT = REPO / "fixtures"
#: UA fixture folders (GA4 and gtag fixtures run in test_source_fixtures.py).
FORMS = ("ua",)


def _load(folder: str) -> list[Path]:
    """The fixture files of every form in ``folder`` ("" for the valid ones)."""
    return sorted(path for form in FORMS for path in (ROOT / form / folder).glob("*.json"))


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _as_list(events):
    return [{"event_type": e.event_type, "properties": list(e.properties.items())} for e in events]


@pytest.mark.parametrize("path", _load(""), ids=_id)
def test_valid_fixture(path):
    fixture = json.loads(path.read_text(encoding="utf-8"))
    assert fixture["expected"], "a fixture must expect something"
    for mapping, expected in fixture["expected"].items():
        events = to_exponea_events(fixture["input"], fixture.get("kind", "all"), mapping=mapping)
        want = [{"event_type": e["event_type"], "properties": list(e["properties"].items())}
                for e in expected]
        assert _as_list(events) == want, f"{mapping}: {path.name}"


@pytest.mark.parametrize("path", _load("invalid"), ids=_id)
def test_invalid_fixture(path):
    fixture = json.loads(path.read_text(encoding="utf-8"))
    with pytest.raises(EcommerceError) as info:
        to_exponea_events(fixture["input"], strict=fixture.get("strict", False))
    assert set(fixture["errors"]) <= set(info.value.paths), str(info.value)


@pytest.mark.parametrize("path", _load("strict"), ids=_id)
def test_strict_fixture(path):
    fixture = json.loads(path.read_text(encoding="utf-8"))
    to_exponea_events(fixture["input"])  # lenient reading repairs it
    with pytest.raises(EcommerceError) as info:
        to_exponea_events(fixture["input"], strict=True)
    assert set(fixture["errors"]) <= set(info.value.paths), str(info.value)


def test_there_are_fixtures_of_every_kind():
    kinds = set()
    for path in _load(""):
        fixture = json.loads(path.read_text(encoding="utf-8"))
        for events in fixture["expected"].values():
            kinds.update(e["event_type"] for e in events)
    assert {"product_impression", "product_click", "product_detail", "product_add_to_cart",
            "product_remove_from_cart", "promo_impression", "promo_click", "product_checkout",
            "checkout", "checkout_option", "product_purchase", "transaction", "product_refund",
            "refund"} <= kinds
