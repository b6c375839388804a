"""Start-up: a command imports what it runs and no more, and the lazily built parser is the same.

Speed itself is measured by ``benchmarks/bench_startup.py``; these tests pin the behaviour that
keeps it: what a ``convert`` run leaves unimported, and that building only the chosen subcommand
changes no help page, choice or usage error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ga_ee_bridge.cli import COMMANDS, build_parser, chosen_command, main

#: Modules a ``convert`` or ``validate`` run has no use for: the sender (httpx and its CLI
#: libraries), SQLite, the other subcommands, worker pools, the HTML report, the progress bar.
NOT_FOR_CONVERTING = ("httpx", "click", "rich", "tqdm", "sqlite3", "ga_ee_bridge.send",
                      "ga_ee_bridge.cli.send", "ga_ee_bridge.cli.spool",
                      "ga_ee_bridge.cli._connection", "concurrent.futures.process",
                      "multiprocessing", "ga_ee_bridge.convert.report", "importlib.abc")

PURCHASE = {"event": "purchase", "gtm.start": 1_709_294_400_000, "ecommerce": {"purchase": {
    "actionField": {"id": "T1", "revenue": "10.00"},
    "products": [{"id": "SKU1", "name": "Shirt", "price": "10.00", "quantity": 1}]}}}


def _loaded_after(argv: list[str], cwd: Path) -> tuple[int, list[str]]:
    """Run ``main(argv)`` in a fresh interpreter; its status and the listed modules it loaded."""
    code = (
        "import json, sys\n"
        "from ga_ee_bridge.cli import main\n"
        f"status = main({argv!r})\n"
        f"names = {NOT_FOR_CONVERTING!r}\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(names) and "
        "(m in names or m.startswith(tuple(n + '.' for n in names))))\n"
        "print(json.dumps([status, loaded]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, check=True)
    status, loaded = json.loads(done.stdout.splitlines()[-1])
    return status, loaded


@pytest.mark.parametrize("command", [
    ["convert", "one.jsonl", "-o", "out.jsonl", "-q"],
    ["convert", "one.jsonl", "-o", "out.jsonl", "--summary-json", "summary.json"],
    ["validate", "one.jsonl", "-q"],
])
def test_converting_loads_no_sender_sqlite_pool_or_report(tmp_path: Path, command: list[str]):
    (tmp_path / "one.jsonl").write_text(json.dumps(PURCHASE) + "\n", encoding="utf-8")
    status, loaded = _loaded_after(command, tmp_path)
    assert status == 0
    assert loaded == []
    if command[0] == "convert":
        lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["data"]["event_type"] for line in lines] == [
            "product_purchase", "transaction"]


def test_a_report_and_workers_still_load_what_they_need(tmp_path: Path):
    (tmp_path / "one.jsonl").write_text(json.dumps(PURCHASE) + "\n", encoding="utf-8")
    status, loaded = _loaded_after(["convert", "one.jsonl", "-o", "out.jsonl", "-q", "--report",
                                    "report.html", "--jobs", "2"], tmp_path)
    assert status == 0
    assert "ga_ee_bridge.convert.report" in loaded and "concurrent.futures.process" in loaded
    assert "<html" in (tmp_path / "report.html").read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("argv,expected", [
    (["convert", "a.json"], "convert"),
    (["--", "send", "x.jsonl"], "send"),
    (["spool", "list", "x.db"], "spool"),
    (["validate", "--help"], "validate"),
    (["--help"], None),
    (["--version"], None),
    ([], None),
    (["conver", "a.json"], None),
    (["-x", "convert"], "convert"),
])
def test_chosen_command(argv: list[str], expected: str | None):
    assert chosen_command(argv) == expected


def _helps(parser: argparse.ArgumentParser, words: str = "") -> dict[str, str]:
    """Every help page of a parser tree, by the words that reach it ("" for the top)."""
    pages = {words: parser.format_help()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                pages.update(_helps(child, f"{words} {name}".strip()))
    return pages


def test_building_only_the_chosen_command_changes_no_help(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "100")
    full = _helps(build_parser())
    assert {"convert", "validate", "send", "spool list", "spool retry"} <= set(full)
    assert _helps(build_parser(commands=()))[""] == full[""]
    for name in COMMANDS:
        lazy = _helps(build_parser(commands=(name,)))
        assert lazy[""] == full[""]
        own = {words: page for words, page in full.items() if words.split()[:1] == [name]}
        assert own and all(lazy[words] == page for words, page in own.items())


def test_a_misspelt_command_is_suggested_as_before(capsys: pytest.CaptureFixture[str]):
    assert main(["conver", "a.json"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'conver'" in err and "did you mean 'convert'?" in err


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]):
    assert main([]) == 2
    listed = capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    assert listed == capsys.readouterr().out
    assert all(f"    {name}" in listed for name in COMMANDS)


@pytest.mark.parametrize("enabled", [True, False])
def test_called_from_python_main_leaves_the_collector_as_it_was(tmp_path: Path, enabled: bool):
    import gc

    (tmp_path / "one.jsonl").write_text(json.dumps(PURCHASE) + "\n", encoding="utf-8")
    frozen = gc.get_freeze_count()
    (gc.enable if enabled else gc.disable)()
    try:
        assert main(["validate", str(tmp_path / "one.jsonl"), "-q"]) == 0
        assert gc.isenabled() is enabled
        assert gc.get_freeze_count() == frozen
    finally:
        gc.enable()


def test_as_a_command_the_start_up_objects_are_frozen_and_the_collector_runs(tmp_path: Path):
    (tmp_path / "one.jsonl").write_text(json.dumps(PURCHASE) + "\n", encoding="utf-8")
    code = ("import gc, sys\n"
            "sys.argv = ['ga-ee-bridge', 'convert', 'one.jsonl', '-o', 'out.jsonl', '-q']\n"
            "from ga_ee_bridge.cli import main\n"
            "status = main()\n"
            "print(status, gc.isenabled(), gc.get_freeze_count() > 1000)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, check=True)
    assert done.stdout.split() == ["0", "True", "True"]
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8").count("\n") == 2
