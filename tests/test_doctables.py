"""docs/mapping.md is generated from the mapping code and must be current."""

from pathlib import Path

from ga_ee_bridge.doctables import mapping_markdown
from ga_ee_bridge.mappings.taxonomy import PRODUCT_PROPERTIES, SECTION_EVENTS

DOC = Path(__file__).resolve().parent.parent / "docs" / "mapping.md"


def test_mapping_doc_is_current():
    assert DOC.read_text(encoding="utf-8") == mapping_markdown(), (
        "docs/mapping.md is stale: run `python -m ga_ee_bridge.doctables > docs/mapping.md`"
    )


def test_every_kind_and_property_is_documented():
    text = mapping_markdown()
    for kind, (item_event, summary_event) in SECTION_EVENTS.items():
        assert f"## `{kind}`" in text
        for event in (item_event, summary_event):
            assert event is None or f"`{event}`" in text
    for key, name in PRODUCT_PROPERTIES:
        assert f"`purchase.products[].{key}` | `{name}`" in text
