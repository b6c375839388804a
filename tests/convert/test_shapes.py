"""gtag.js and GTM shapes: send_to other products, gtag('set'), classic GTM, renamed events."""

import json
import os
import subprocess
import sys

import pytest
from support import REPO

from ga_ee_bridge import to_exponea_events
from ga_ee_bridge.convert.api import convert_dump
from ga_ee_bridge.convert.options import ConvertOptions
from ga_ee_bridge.convert.results import ConvertStats, Reject
from ga_ee_bridge.readers import detect_source, read_push
from ga_ee_bridge.readers.gtag import for_analytics
from ga_ee_bridge.readers.gtm_classic import read_classic

DUMPS = REPO / "fixtures" / "dumps"
ALIASES = ["dl_add=add_to_cart", "dl_purchase=purchase"]
T0 = 1_709_294_400


def run(path, jobs=1, **options):
    stats = ConvertStats()
    items = list(convert_dump(str(path), jobs=jobs, stats=stats, **options))
    commands = [item for item in items if isinstance(item, dict)]
    rejects = [item for item in items if isinstance(item, Reject)]
    return commands, rejects, stats


def expected(stem):
    text = (DUMPS / "expected" / f"{stem}.commands.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("jobs", [1, 2])
def test_gtag_shapes_fixture(jobs):
    commands, rejects, stats = run(DUMPS / "gtag-shapes.json", jobs, event_aliases=ALIASES)
    assert commands == expected("gtag-shapes")
    assert not rejects
    types = [c["data"]["event_type"] for c in commands]
    # The Google Ads purchase is skipped: the Analytics one of the same order is no duplicate.
    assert types == ["product_detail", "product_purchase", "transaction", "product_add_to_cart"]
    assert stats.duplicates == 0
    assert stats.not_for_analytics == {"purchase": 1, "conversion": 1}
    assert stats.not_for_analytics_first["purchase"].endswith("gtag-shapes.json:40 dataLayer[5]")
    # gtag('set', {currency}) reaches the later events; an event's own currency wins.
    currencies = [c["data"]["properties"].get("currency_code") for c in commands]
    assert currencies == ["EUR", "EUR", "EUR", "USD"]
    # send_to is routing, never a key left out; set's page_title is not carried over.
    assert not stats.dropped


@pytest.mark.parametrize("jobs", [1, 2])
def test_classic_gtm_fixture(jobs):
    commands, rejects, stats = run(DUMPS / "gtm-classic.json", jobs, event_aliases=ALIASES)
    assert commands == expected("gtm-classic")
    first = [c["data"] for c in commands[:3]]
    assert [d["event_type"] for d in first] == ["product_purchase", "product_purchase",
                                                "transaction"]
    assert first[0]["properties"]["product_id"] == "DD44"  # sku, there is no id
    assert first[1]["properties"]["product_id"] == "AA1"  # the id wins over the sku
    assert first[2]["properties"]["revenue"] == 38.26
    assert first[1]["properties"]["quantity"] == 2 and first[1]["properties"]["price"] == 9.99
    [reject] = rejects  # no transaction id: the purchase is meaningless
    assert {(path, value) for path, _, value in reject.errors} == {("[2].transactionId", None)}
    assert stats.dropped == {"transactionProducts[].sku": 1}


def test_classic_gtm_in_the_library():
    push = {"event": "transaction", "transactionId": 7, "transactionTotal": "12,50",
            "transactionProducts": [{"sku": "S1", "name": "Pen", "price": "12.50",
                                     "quantity": 1}]}
    assert detect_source(push) == "gtm"
    events = to_exponea_events(push)
    assert [e.event_type for e in events] == ["product_purchase", "transaction"]
    assert events[1].properties["transaction_id"] == "7"
    assert events[1].properties["revenue"] == 12.5
    assert read_push(push).source == "gtm"
    # An Enhanced Ecommerce push is never read as classic.
    assert detect_source({"transactionId": "T", "ecommerce": {"detail": {}}}) == "ua"
    with pytest.raises(ValueError) as info:
        read_classic({"transactionProducts": [{"sku": "S1"}]})
    assert "transactionId" in str(info.value)


@pytest.mark.parametrize(("send_to", "analytics"), [
    (None, True), ("G-ABC", True), ("UA-1-1", True), ("AW-1/x", False),
    (["AW-1/x", "DC-2/a/b"], False), (["AW-1/x", "G-ABC"], True), ("default", True),
    ("my_group", True), ("GT-XYZ", True), ("AW-1/x,DC-2", False), ([], True), ([5], True),
])
def test_for_analytics(send_to, analytics):
    params = {} if send_to is None else {"send_to": send_to}
    assert for_analytics(params) is analytics


@pytest.mark.parametrize("form", ["object", "list"])
def test_gtag_set_applies_to_later_events_of_the_page_only(tmp_path, form):
    def gtag(*args):
        return list(args) if form == "list" else {str(i): a for i, a in enumerate(args)}

    item = {"item_id": "P1", "item_name": "Mug", "price": 2}
    pages = [
        {"timestamp": T0, "dataLayer": [
            gtag("event", "view_item", {"items": [item]}),
            gtag("set", "currency", "CZK"),
            gtag("event", "view_item", {"items": [item]}),
        ]},
        {"timestamp": T0, "dataLayer": [gtag("event", "view_item", {"items": [item]})]},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(page) + "\n" for page in pages))
    commands, rejects, _ = run(path)
    assert not rejects
    assert [c["data"]["properties"].get("currency_code") for c in commands] == [None, "CZK", None]


def test_event_aliases_rename_ga4_pushes_only_when_asked(tmp_path):
    push = {"event": "dl_purchase", "timestamp": T0, "ecommerce": {
        "transaction_id": "T1", "value": 5, "items": [{"item_id": "P1", "price": 5}]}}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(push) + "\n")
    commands, _, stats = run(path)
    assert commands == [] and stats.unsupported == {"dl_purchase": 1}
    commands, _, stats = run(path, event_aliases={"dl_purchase": "purchase"})
    assert [c["data"]["event_type"] for c in commands] == ["product_purchase", "transaction"]
    assert not stats.unsupported


@pytest.mark.parametrize("aliases", [["dl_purchase"], ["=purchase"], ["a=b", "a=c"],
                                     {"a": ""}])
def test_bad_event_aliases_say_what_is_wrong(aliases):
    with pytest.raises(ValueError, match="alias"):
        ConvertOptions(event_aliases=aliases)


def test_the_cli_takes_event_aliases_and_counts_not_for_analytics(tmp_path):
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "ga_ee_bridge", "convert", str(DUMPS / "gtag-shapes.json"),
         "-o", str(out), *[arg for alias in ALIASES for arg in ("--event-alias", alias)]],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text().splitlines() == [
        line for line in (DUMPS / "expected" / "gtag-shapes.commands.jsonl").read_text()
        .splitlines()]
    assert "2 gtag.js event(s) not for Analytics" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "ga_ee_bridge", "convert", str(DUMPS / "gtag-shapes.json"),
         "--event-alias", "nonsense"], capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60,
    )
    assert done.returncode == 2 and "NAME=GA_EVENT" in done.stderr


def test_validate_lists_events_not_for_analytics():
    done = subprocess.run(
        [sys.executable, "-m", "ga_ee_bridge", "validate", str(DUMPS / "gtag-shapes.json"), "-q"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (f"{DUMPS / 'gtag-shapes.json'}:40 dataLayer[5]: warning: gtag.js purchase is sent to "
            "other products only (send_to), not Analytics: skipped (1 event; the first here)"
            ) in done.stdout.splitlines()
