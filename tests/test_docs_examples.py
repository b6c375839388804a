"""The Python examples of docs/testing.md run as tests, so the page cannot rot."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest
from support import REPO

DOC = REPO / "docs" / "testing.md"
FIXTURES = REPO / "fixtures" / "ua"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks() -> list[str]:
    # The examples that define something (tests/test_docs_blocks.py runs every block).
    return [block for block in _BLOCK.findall(DOC.read_text(encoding="utf-8")) if "def " in block]


def _run(block: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "docs_testing_example"}
    exec(compile(block, str(DOC), "exec"), namespace)
    return namespace


def test_the_page_has_its_examples() -> None:
    blocks = _blocks()
    assert len(blocks) == 4
    assert sum("def test_" in block for block in blocks) == 3


@pytest.mark.parametrize("index", [0, 1, 2])
def test_property_examples_pass(index: int) -> None:
    namespace = _run(_blocks()[index])
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert len(tests) == 1
    tests[0]()  # hypothesis runs the property with this suite's profile


def test_the_order_totals_example_catches_a_broken_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worked example is a real check: it fails when prices are misread."""
    import dataclasses

    from ga_ee_bridge.mappings import MAPPINGS

    namespace = _run(_blocks()[0])

    def misread(source: Any, key: str) -> Any:
        value = getattr(source, key)
        return value / 1000 if key == "price" and value else value  # GA's "2,698.00" -> 2.698

    monkeypatch.setitem(MAPPINGS, "sdk", dataclasses.replace(MAPPINGS["sdk"], read=misread))
    with pytest.raises(AssertionError):
        namespace["test_order_totals_survive_conversion"]()


def _write_fixture(root: pathlib.Path, *, price: Any) -> None:
    """A fixture in the shipped format, its expectation written by hand from the rules."""
    fixture = {
        "description": "one product added to the cart, price as text with a thousands comma",
        "source": "hand-written for tests/test_docs_examples.py",
        "kind": "all",
        "input": {"event": "addToCart", "ecommerce": {
            "currencyCode": "EUR", "add": {"products": [{"id": "P1", "price": "2,698.00"}]},
        }},
        "expected": {
            "sdk": [{"event_type": "product_add_to_cart", "properties": {
                "tracked_via": "ecommerce", "currency_code": "EUR", "product_id": "P1",
                "price": price,
            }}],
            "sdk-exact": [{"event_type": "product_add_to_cart", "properties": {
                "tracked_via": "eecommerce", "currency_code": "EUR", "product_id": "P1",
                "price": "2,698.00",
            }}],
        },
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "add-thousands.json").write_text(json.dumps(fixture), encoding="utf-8")


def test_fixture_example_checks_fixtures(tmp_path: pathlib.Path) -> None:
    check_fixtures = _run(_blocks()[3])["check_fixtures"]
    _write_fixture(tmp_path / "good", price=2698.0)
    assert check_fixtures(tmp_path / "good") == 2
    _write_fixture(tmp_path / "bad", price=2.698)  # GA's own misreading
    with pytest.raises(AssertionError, match=r"add-thousands.json \(sdk\)"):
        check_fixtures(tmp_path / "bad")


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="fixtures/ua not in this checkout")
def test_fixture_example_passes_on_the_shipped_fixtures() -> None:
    check_fixtures = _run(_blocks()[3])["check_fixtures"]
    assert check_fixtures(FIXTURES) > 0
