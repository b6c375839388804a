"""analytics.js ec command reader: the guide's examples as fixtures, accumulation, errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from support import REPO

from ga_ee_bridge import EcommerceError, to_exponea_events
from ga_ee_bridge.readers.analyticsjs import (
    is_analyticsjs_commands,
    read_analyticsjs,
    read_analyticsjs_sends,
)

FIXTURES = sorted((REPO / "fixtures" / "analyticsjs").glob("*.json"))


def test_fixtures_exist() -> None:
    assert len(FIXTURES) >= 8


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text())
    assert is_analyticsjs_commands(fixture["input"])
    events = [
        {"event_type": event.event_type, "properties": dict(event.properties)}
        for ecommerce in read_analyticsjs(fixture["input"])
        for event in to_exponea_events(ecommerce)
    ]
    assert events == fixture["expected"]["sdk"]


def test_each_send_carries_what_accumulated_since_the_last() -> None:
    sends = read_analyticsjs_sends([
        ["ec:addProduct", {"id": "A"}],
        ["ec:addProduct", {"id": "B"}],
        ["ec:setAction", "add"],
        ["send", "event"],
        ["send", "pageview"],  # nothing left to carry: no Send
        ["ec:addProduct", {"id": "C"}],
        ["ec:setAction", "remove"],
        ["send", {"hitType": "event"}],
    ])
    assert [(s.command, s.hit_type) for s in sends] == [(3, "event"), (7, "event")]
    assert [p.id for p in sends[0].ecommerce.sections["add"].items] == ["A", "B"]
    assert [p.id for p in sends[1].ecommerce.sections["remove"].items] == ["C"]


def test_currency_persists_across_sends_per_tracker() -> None:
    sends = read_analyticsjs_sends([
        ["set", "&cu", "eur"],
        ["t2.ec:addProduct", {"id": "T2"}],
        ["ec:addProduct", {"id": "A"}],
        ["ec:setAction", "detail"],
        ["send", "pageview"],
        ["ec:addProduct", {"id": "B"}],
        ["ec:setAction", "detail"],
        ["send", "pageview"],
        ["t2.ec:setAction", "detail"],
        ["t2.send", "pageview"],
    ])
    assert [(s.ecommerce.currency_code, s.tracker) for s in sends] == [
        ("EUR", None), ("EUR", None), (None, "t2")
    ]
    assert sends[0].ecommerce.raw_currency_code == "eur"


def test_products_without_action_are_reported_lenient_and_rejected_strict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    commands = [
        ["ec:addImpression", {"id": "I"}],
        ["ec:addProduct", {"id": "X"}],
        ["send", "pageview"],
        ["ec:addProduct", {"id": "never sent"}],
    ]
    sends = read_analyticsjs_sends(commands)
    assert sends[0].ignored == ("[1]",)
    assert list(sends[0].ecommerce.sections) == ["impressions"]
    assert sends.unsent == ("[3]",)
    with caplog.at_level(logging.WARNING, logger="ga_ee_bridge"):
        assert len(list(read_analyticsjs(commands))) == 1
    assert "[1]" in caplog.text and "[3]" in caplog.text
    with pytest.raises(EcommerceError) as caught:
        read_analyticsjs(commands, strict=True)
    assert set(caught.value.paths) == {"[2][0]", "[3]"}


def test_errors_name_command_and_argument() -> None:
    with pytest.raises(EcommerceError) as caught:
        read_analyticsjs([
            ["ec:addProduct", {"id": "P", "price": "abc"}],
            ["ec:setAction", "purchase", {"revenue": "1"}],
            ["ec:setAction", "buy"],
            ["ec:addPromo"],
            ["ec:foo", {}],
            ["set", "&cu", 12],
            5,
        ], strict=True)
    errors = dict(caught.value.errors)
    assert errors["[0][1].price"] == "not a plain number (lenient mode would repair it): 'abc'"
    assert errors["[1][2].id"].startswith("missing: a purchase needs an id")
    assert errors["[2][1]"].startswith("unknown action 'buy'")
    assert errors["[3][1]"] == "missing: the field object"
    assert errors["[4][0]"] == "unknown ec command: 'ec:foo'"
    assert "[5][2]" in errors
    assert errors["[6]"].startswith("not a command")


def test_arguments_objects_read_as_commands() -> None:
    [ecommerce] = read_analyticsjs([
        {"0": "ec:addProduct", "1": {"id": "P1", "quantity": "2"}},
        {"0": "ec:setAction", "1": "add"},
        {"0": "send", "1": "event"},
    ])
    assert ecommerce.sections["add"].items[0].quantity == 2


def test_checkout_option_carries_no_products() -> None:
    [send] = read_analyticsjs_sends([
        ["ec:addProduct", {"id": "P"}],
        ["ec:setAction", "checkout_option", {"step": 2, "option": "FedEx"}],
        ["send", "event"],
    ])
    section = send.ecommerce.sections["checkout_option"]
    assert (section.items, section.action_field.step) == ((), 2)
    assert send.ignored == ("[0]",)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ([["ec:addProduct", {"id": "P"}], ["send", "pageview"]], True),
        ([["t2.ec:setAction", "detail"]], True),
        ([["send", "pageview"]], False),
        ([{"event": "purchase"}], False),
        ([{"0": "event", "1": "purchase"}], False),
        ([], False),
        ({"ecommerce": {}}, False),
    ],
)
def test_is_analyticsjs_commands(obj: object, expected: bool) -> None:
    assert is_analyticsjs_commands(obj) is expected


def test_not_a_list() -> None:
    with pytest.raises(EcommerceError, match="not a list of commands"):
        read_analyticsjs({"ecommerce": {}})
