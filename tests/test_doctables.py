"""docs/mapping.md is generated from the mapping code and must be current."""


import pytest
from support import REPO

from ga_ee_bridge.doctables import GENERATED, architecture_markdown, main, mapping_markdown
from ga_ee_bridge.mappings.taxonomy import PRODUCT_PROPERTIES, SECTION_EVENTS

DOCS = REPO / "docs"


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_doc_is_current(name):
    assert (DOCS / name).read_text(encoding="utf-8") == GENERATED[name](), (
        f"docs/{name} is stale: run `python -m ga_ee_bridge.doctables`"
    )


def test_check_mode_names_a_stale_doc_and_writing_mends_it(tmp_path, capsys):
    for name in GENERATED:
        (tmp_path / name).write_text("old\n", encoding="utf-8")
    assert main(["--docs", str(tmp_path), "--check"]) == 1
    assert "stale:" in capsys.readouterr().err
    assert main(["--docs", str(tmp_path)]) == 0
    assert main(["--docs", str(tmp_path), "--check"]) == 0


def test_architecture_lists_every_module_of_the_package():
    text = architecture_markdown()
    package = REPO / "ga_ee_bridge"
    for path in package.rglob("*.py"):
        relative = path.relative_to(package).as_posix()
        assert f"| `{relative}` |" in text, relative


def test_every_kind_and_property_is_documented():
    text = mapping_markdown()
    for kind, (item_event, summary_event) in SECTION_EVENTS.items():
        assert f"## `{kind}`" in text
        for event in (item_event, summary_event):
            assert event is None or f"`{event}`" in text
    for key, name in PRODUCT_PROPERTIES:
        assert f"`purchase.products[].{key}` | `{name}`" in text
