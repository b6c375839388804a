"""The ``--report`` page: self-contained, escaped, drawn from the stats, and rendered by a real
browser (headless Chromium) without console errors."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import REPO

from ga_ee_bridge.cli import main
from ga_ee_bridge.convert.report import render_report
from ga_ee_bridge.convert.results import ConvertStats, Reject
from ga_ee_bridge.convert.summary import Observations

DUMPS = REPO / "fixtures" / "dumps"
NOW = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)


def _page(**extra: object) -> tuple[ConvertStats, Observations]:
    stats = ConvertStats(inputs=1, pushes=6, ecommerce=4, skipped=1, pages=1, duplicates=1)
    stats.unsupported["view_cart"] = 1
    stats.unsupported_first["view_cart"] = "a.json:9 [4]"
    stats.events.update({"product_purchase": 2, "transaction": 1})
    stats.rejects["invalid ecommerce"] = 1
    stats.dropped["ecommerce.<b>sku</b>"] = 2
    stats.dropped_first["ecommerce.<b>sku</b>"] = "a.json:3 [1]"
    seen = Observations()
    day = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC).timestamp()
    for seconds, ids in ((day, {"registered": "a@b"}), (day + 86400, {"cookie": "c1"}),
                         (None, {"cookie": "c2"})):
        seen.item(_segment("product_purchase", ids, seconds), "commands")
    seen.item(Reject("a.json", 7, 2, "invalid ecommerce",
                     (("[2].ecommerce.purchase.products[0].price",
                       "not a number: '<script>alert(1)</script>'", "x"),), {}), "commands")
    return stats, seen


def _segment(event_type: str, ids: dict[str, str], seconds: float | None):  # type: ignore[no-untyped-def]
    from ga_ee_bridge.convert.encoders import ENCODERS, dumps
    from ga_ee_bridge.convert.results import Segment

    stamp = None if seconds is None else repr(seconds)
    line = ENCODERS["commands"](ids, dumps(ids), event_type, stamp, {"price": 1.0})
    return Segment(None, [(event_type, line)])


def test_the_page_is_self_contained_and_escaped() -> None:
    html = render_report(*_page(), inputs=["shop/a.json"], seconds=0.5, now=NOW)
    assert "<script" not in html.lower().replace("&lt;script", "")  # no script at all
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # data is escaped, never markup
    assert "ecommerce.&lt;b&gt;sku&lt;/b&gt;" in html
    # No resource from anywhere: no src, no link, no url(), no @import.
    assert not re.search(r"\bsrc=|<link|url\(|@import", html)
    assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"]  # a name


def test_the_page_shows_what_the_conversion_did() -> None:
    html = render_report(*_page(), inputs=["shop/a.json"], seconds=0.5, now=NOW)
    # One bar segment per (day, type): 2024-03-01, 2024-03-02 and "no timestamp".
    bars = re.findall(r"<rect [^>]*><title>([^<]*)</title>", html)
    assert bars == ["2024-03-01: product_purchase 1", "2024-03-02: product_purchase 1",
                    "no timestamp: product_purchase 1"]
    assert "identified: 1 customer(s), 1 event(s)" in html
    assert "anonymous (cookie only): 2 customer(s), 2 event(s)" in html
    assert "<code>a.json:7</code>" in html  # the first example of a reject, with its path
    assert "[2].ecommerce.purchase.products[0].price" in html
    assert "first at <code>a.json:9 [4]</code>" in html  # an unsupported event's first place
    assert "<b>1</b> purchase(s) repeated the transaction id" in html
    assert "2026-01-02 03:04 UTC" in html and "a.json" in html


def test_an_empty_conversion_still_makes_a_page() -> None:
    html = render_report(ConvertStats(), Observations(), inputs=["-"], seconds=0.0, now=NOW)
    assert "No events." in html and "No push was rejected." in html and "No warnings." in html


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    return found


def _render(chromium: str, page: Path, shot: Path, profile: Path) -> list[str]:
    """Screenshot ``page``; returns the console messages Chromium logged (errors included)."""
    profile.mkdir()
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=120, check=False)
    log = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, log
    assert not re.search(r"net::ERR_|Failed to load resource", log), log
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.slow
def test_chromium_renders_the_report_without_console_errors(tmp_path: Path) -> None:
    chromium = _chromium()
    report = tmp_path / "report.html"
    status = main(["convert", str(DUMPS / "shop-dirt.json"), str(DUMPS / "ga4-page.json"),
                   str(DUMPS / "thank-you-reloaded.jsonl"), str(DUMPS / "crawl.jsonl.gz"),
                   "--id", "registered=user.email", "-q", "-o", str(tmp_path / "o.jsonl"),
                   "--report", str(report)])
    assert status == 3 and report.stat().st_size > 5000
    shot = tmp_path / "report.png"
    assert _render(chromium, report, shot, tmp_path / "profile") == []
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000  # a page, not a blank
    # The check sees console errors when there are some (so its silence above means something).
    broken = tmp_path / "broken.html"
    broken.write_text("<p>x</p><script>console.error('boom'); notDefined();</script>")
    logged = _render(chromium, broken, tmp_path / "broken.png", tmp_path / "profile2")
    assert any("boom" in line for line in logged) and any("Uncaught" in line for line in logged)
