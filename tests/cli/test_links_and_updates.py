"""``convert --link / --update / --mapping bloomreach`` end to end, through ``cli.main``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from support import REPO

from ga_ee_bridge.cli import main

DUMPS = REPO / "fixtures" / "dumps"
DUMP = DUMPS / "links-and-user.json"
ARGS = [
    "--mapping", "bloomreach", "--id", "registered=user.email",
    "--update", "email=user.email", "--update", "phone=user.phone", "--update", "tier=user.tier",
    "--update", "source=:ga-history",
    "--link", '#newsletter-signup=newsletter_click {"placement": "footer"}',
    "--link", 'a[href^="/sale/"], .promo=promo_link',
    "--link", '.nav-link=nav_click {"menu": "main"}',
    "--link", 'a[href$=".pdf"]=download {"file_type": "pdf"}',
]


def test_a_dump_with_clicks_and_a_user_gives_the_expected_commands(tmp_path: Path,
                                                                   capsys) -> None:
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(DUMP), *ARGS, "-o", str(out)]) == 0
    expected = (DUMPS / "expected" / "links-and-user.commands.jsonl").read_text()
    assert out.read_text() == expected
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_text() == ""
    err = capsys.readouterr().err
    assert "3 link clicks (--link), 4 without ecommerce (skipped)" in err
    assert "customer updates (--update): 2" in err


def test_csv_writes_customers_csv_for_the_customer_import(tmp_path: Path) -> None:
    assert main(["convert", str(DUMP), *ARGS, "--format", "csv", "-o", str(tmp_path), "-q"]) == 0
    with open(tmp_path / "customers.csv", newline="", encoding="utf-8") as f:
        got = list(csv.reader(f))
    with open(DUMPS / "expected" / "links-and-user.customers.csv", newline="",
              encoding="utf-8") as f:
        assert got == list(csv.reader(f))
    with open(tmp_path / "download.csv", newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == [
            ["registered", "timestamp", "file_type", "location"],
            ["ana.novak@example.com", "1709294400.004", "pdf",
             "https://shop.example.com/p/donut-friday"]]
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == [
        "cart_update.csv", "customers.csv", "download.csv", "nav_click.csv",
        "newsletter_click.csv", "promo_link.csv", "view_item.csv"]


def test_the_output_is_the_same_whatever_the_jobs(tmp_path: Path) -> None:
    page = json.loads(DUMP.read_text())
    other = json.loads(json.dumps(page).replace("Ana.Novak", "Bo.Berg"))
    dump = tmp_path / "pages.jsonl"
    dump.write_text("".join(json.dumps(p) + "\n" for p in [page, other, page] * 30))
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.jsonl"
        assert main(["convert", str(dump), *ARGS, "-j", jobs, "-q", "-o", str(out)]) == 0
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]
    commands = [json.loads(line) for line in outputs[0].splitlines()]
    customers = [c for c in commands if c["name"] == "customers"]
    assert len(customers) == 4  # two customers, two distinct sets of values each, once


@pytest.mark.parametrize("selector", ["a.btn", "div > a", "a[title='x']", "#a,,#b"])
def test_an_unsupported_selector_is_a_usage_error_naming_it(tmp_path: Path, capsys,
                                                           selector: str) -> None:
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(DUMP), "--link", f"{selector}=x", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unsupported selector" in err and selector in err
    assert not out.exists()


@pytest.mark.parametrize(("option", "says"), [
    ("--update=phone=:12", "phone"), ("--update=email", "PROPERTY=PATH"),
    ("--link=#x=tap {bad json}", "not JSON"),
])
def test_bad_rules_are_usage_errors(tmp_path: Path, capsys, option: str, says: str) -> None:
    assert main(["convert", str(DUMP), option, "-o", str(tmp_path / "o.jsonl")]) == 2
    assert says in capsys.readouterr().err


def test_validate_takes_the_same_rules(capsys) -> None:
    assert main(["validate", str(DUMP), "--link", "a.b=x"]) == 2
    # validate has no --mapping: no mapping changes a problem (same rejects on every dump).
    assert main(["validate", str(DUMP), *ARGS[2:]]) == 0


SDK_TO_BLOOMREACH = {
    "product_detail": "view_item", "product_add_to_cart": "cart_update",
    "product_remove_from_cart": "cart_update", "checkout": "checkout",
    "checkout_option": "checkout", "product_purchase": "purchase_item",
    "product_refund": "purchase_item", "transaction": "purchase", "refund": "purchase",
    "product_impression": "product_impression", "product_click": "product_click",
    "promo_impression": "promo_impression", "promo_click": "promo_click",
}


@pytest.mark.parametrize("dump", ["whole-page.json", "ga4-page.json", "gtag-page.json",
                                  "analyticsjs-pages.jsonl", "mp-hits.log", "bq-sessions.jsonl"])
def test_bloomreach_events_for_every_source_form(dump: str) -> None:
    from collections import Counter

    from ga_ee_bridge import convert_dump

    def counts(mapping: str) -> Counter[str]:
        return Counter(c["data"]["event_type"] for c in convert_dump(
            str(DUMPS / dump), mapping=mapping, no_timestamp_ok=True) if isinstance(c, dict))

    sdk = counts("sdk")
    expected: Counter[str] = Counter()
    for event_type, count in sdk.items():
        if event_type != "product_checkout":  # its lines go into checkout's product_list
            expected[SDK_TO_BLOOMREACH[event_type]] += count
    assert counts("bloomreach") == expected
    assert sum(expected.values()) > 0
