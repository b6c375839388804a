"""No command ends in a traceback: every subcommand's error paths give one clear line and the
documented exit status; a closed pipe and Ctrl-C end the way Unix tools do.

Covered (in-process through ``main`` unless marked): the top level (no command, a misspelt
command, an unknown option); ``convert`` (missing input, a directory as input, misspelt option,
bad ``--kind``, csv without a directory, ``-o`` a directory, ``-o`` under a file, a PNG, a CSV,
an empty input, ``-o /dev/null``, ``-o`` into missing directories, Ctrl-C: subprocess);
``validate`` (missing input, options it does not have, a PNG, ``| head``: subprocess); ``send``
(missing input, a dataLayer dump, a PNG, ``--spool`` the input, no credentials, misspelt option,
Ctrl-C: subprocess); ``spool list|export|retry`` (missing spool, a directory, a file that is no
spool, a misspelt action, ``list | head`` and ``export | head``: subprocess); Ctrl-C whose
clean-up fails on the way out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import REPO

from ga_ee_bridge.cli import main
from ga_ee_bridge.send.spool import Spool
from ga_ee_bridge.testing.server import ExponeaServer, Fault

DUMPS = REPO / "fixtures" / "dumps"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\xff\xfe"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    png = tmp_path / "photo.json"
    png.write_bytes(PNG)
    table = tmp_path / "orders.csv"
    table.write_text("order,sku,price\n1,A-1,9.99\n2,B-2,19.50\n")
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    commands = tmp_path / "commands.jsonl"
    commands.write_text(json.dumps({"name": "customers/events", "data": {
        "customer_ids": {"registered": "a"}, "event_type": "view", "timestamp": 1.0,
        "properties": {}}}) + "\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return {"png": png, "csv": table, "empty": empty, "commands": commands,
            "blocker": blocker, "dir": tmp_path}


@pytest.fixture
def no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EXPONEA_PROJECT_TOKEN", "EXPONEA_API_KEY_ID", "EXPONEA_API_SECRET",
                 "EXPONEA_PUBLIC_TOKEN", "EXPONEA_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    status = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return status, out, err


def error_line(err: str, prog: str) -> str:
    """The one line that says what went wrong (after the usage, when there is one)."""
    lines = [line for line in err.splitlines() if line.startswith(f"{prog}: ")]
    assert len(lines) == 1, err
    return lines[0]


CASES = [
    # (args, status, prog, words the line must hold)
    ([], 2, None, ["usage: ga-ee-bridge"]),
    (["convrt", "x"], 2, "ga-ee-bridge", ["invalid choice: 'convrt'", "did you mean 'convert'"]),
    (["--bogus"], 2, "ga-ee-bridge", ["unrecognized arguments: --bogus"]),
    (["convert", "{dir}/nope.json"], 1, "ga-ee-bridge convert", ["no such file"]),
    (["convert", "{dir}"], 1, "ga-ee-bridge convert", ["is a directory"]),
    (["convert", DUMPS / "whole-page.json", "--quite"], 2, "ga-ee-bridge convert",
     ["unrecognized arguments: --quite", "did you mean '--quiet'"]),
    (["convert", DUMPS / "whole-page.json", "--kind", "view_itm"], 2, "ga-ee-bridge convert",
     ["unknown kind 'view_itm'", "did you mean 'view_item'"]),
    (["convert", DUMPS / "whole-page.json", "--format", "csv"], 2, "ga-ee-bridge convert",
     ["--output DIR"]),
    (["convert", DUMPS / "whole-page.json", "-o", "{dir}"], 2, "ga-ee-bridge convert",
     ["is a directory"]),
    (["convert", DUMPS / "whole-page.json", "-o", "{blocker}/x.jsonl"], 1,
     "ga-ee-bridge convert", ["cannot write"]),
    (["convert", "{png}", "-o", "{dir}/out.jsonl", "-q"], 3, "ga-ee-bridge convert",
     ["not a dump: it looks like a PNG image"]),
    (["convert", "{csv}", "-o", "{dir}/out.jsonl", "-q"], 3, "ga-ee-bridge convert",
     ["not a dump: it looks like CSV"]),
    (["convert", "{empty}", "-q"], 0, "ga-ee-bridge convert", ["warning:", "is empty"]),
    (["validate", "{dir}/nope.json"], 1, "ga-ee-bridge validate", ["no such file"]),
    (["validate", DUMPS / "whole-page.json", "--jobs", "2"], 2, "ga-ee-bridge validate",
     ["unrecognized arguments: --jobs"]),
    (["validate", DUMPS / "whole-page.json", "--keep-duplicates"], 2, "ga-ee-bridge validate",
     ["unrecognized arguments: --keep-duplicates"]),
    (["validate", DUMPS / "whole-page.json", "--mapping", "sdk"], 2, "ga-ee-bridge validate",
     ["unrecognized arguments: --mapping"]),
    (["send", "{dir}/nope.jsonl"], 2, "ga-ee-bridge send", ["no such file"]),
    (["send", DUMPS / "whole-page.json"], 2, "ga-ee-bridge send",
     ["dataLayer dump", "convert it first: ga-ee-bridge convert"]),
    (["send", DUMPS / "thank-you-reloaded.jsonl"], 2, "ga-ee-bridge send",
     ["convert it first"]),
    (["send", "{png}"], 2, "ga-ee-bridge send", ["looks like a PNG image"]),
    (["send", "{commands}", "--spool", "{commands}"], 2, "ga-ee-bridge send",
     ["is one of the input files"]),
    (["send", "{commands}"], 2, "ga-ee-bridge send", ["no project token"]),
    (["send", "{commands}", "--spoll", "x.db"], 2, "ga-ee-bridge send",
     ["did you mean '--spool'"]),
    (["spool", "list", "{dir}/nope.db"], 2, "ga-ee-bridge spool list", ["no such spool"]),
    (["spool", "list", "{dir}"], 2, "ga-ee-bridge spool list", ["is a directory, not a spool"]),
    (["spool", "list", "{commands}"], 2, "ga-ee-bridge spool list",
     ["is not a spool: it looks like JSON"]),
    (["spool", "export", "{png}"], 2, "ga-ee-bridge spool export",
     ["is not a spool: it looks like a PNG image"]),
    (["spool", "retry", "{csv}"], 2, "ga-ee-bridge spool retry", ["is not a spool"]),
    (["spool", "lst", "x.db"], 2, "ga-ee-bridge spool", ["did you mean 'list'"]),
]


@pytest.mark.parametrize(("args", "status", "prog", "words"), CASES,
                         ids=[" ".join(str(a).rsplit("/", 1)[-1] for a in case[0]) or "(none)"
                              for case in CASES])
def test_every_error_path_is_one_clear_line(args: list[object], status: int, prog: str | None,
                                            words: list[str], files: dict[str, Path],
                                            no_connection: None,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    given = [str(a).format(**files) for a in args]
    got, _, err = run(capsys, *given)
    assert got == status, err
    line = err if prog is None else error_line(err, prog)
    for word in words:
        assert word in line, err
    assert "\\x89" not in err and "\ufffd" not in err  # binary is never echoed
    if args[:1] in (["convert"], ["validate"], ["send"]) and status == 2 and "usage" in err:
        assert err.startswith(f"usage: ga-ee-bridge {args[0]}")  # the subcommand's usage


def test_special_files_and_missing_directories(files: dict[str, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "convert", DUMPS / "shop-dirt.json", "-o", os.devnull)
    assert status == 3 and '"reason": "invalid ecommerce"' in err  # rejects: standard error
    assert not os.path.exists(os.devnull + ".rejects.jsonl")
    nested = files["dir"] / "new" / "deeper"
    status, _, err = run(capsys, "convert", DUMPS / "shop-dirt.json", "-q",
                         "-o", nested / "o.jsonl", "--rejects", nested / "r" / "r.jsonl",
                         "--summary-json", nested / "s" / "s.json",
                         "--report", nested / "p" / "p.html")
    assert status == 3, err
    for path in ("o.jsonl", "r/r.jsonl", "s/s.json", "p/p.html"):
        assert (nested / path).stat().st_size > 0
    assert not [p for p in nested.rglob(".*.part")]


def _spool_with_dead_letters(path: Path, count: int) -> Path:
    store = Spool(path)
    ids = store.add([{"name": "customers/events", "data": {
        "customer_ids": {"registered": f"u{n}"}, "event_type": "view", "properties": {"n": n}}}
        for n in range(count)])
    store.finish([], [(i, 400, '["price too high"]') for i in ids])
    store.close()
    return path


def test_dead_letter_reasons_are_text(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    spool = _spool_with_dead_letters(tmp_path / "dead.db", 2)
    status, out, _ = run(capsys, "spool", "list", spool)
    assert status == 0
    assert out.count("HTTP 400: price too high\n") == 2 and '["' not in out


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                          cwd=cwd, env=env, timeout=60)


@pytest.mark.parametrize("action", ["list", "export"])
def test_a_closed_pipe_ends_quietly(action: str, tmp_path: Path) -> None:
    spool = _spool_with_dead_letters(tmp_path / "dead.db", 3000)
    done = _shell(f"{sys.executable} -m ga_ee_bridge spool {action} dead.db | head -1",
                  tmp_path)
    assert len(done.stdout.splitlines()) == 1
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 141  # as if killed by SIGPIPE, like any Unix tool
    assert spool.exists()


def test_validate_into_a_closed_pipe(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ecommerce": {"purchase": \n' * 20000)
    done = _shell(f"{sys.executable} -m ga_ee_bridge validate -q bad.jsonl | head -2", tmp_path)
    assert len(done.stdout.splitlines()) == 2
    assert b"Traceback" not in done.stderr and done.returncode == 141, done.stderr


def _interrupt(child: subprocess.Popen[bytes], ready: object, timeout: float = 20) -> bytes:
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)
    assert ready(), "the command did not start"  # type: ignore[operator]
    time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=20)
    return err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_in_convert_exits_130_and_leaves_no_partial_output(tmp_path: Path,
                                                                  jobs: str) -> None:
    out = tmp_path / "out.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-m", "ga_ee_bridge", "convert", "-", "-o", str(out), "-j", jobs],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert child.stdin is not None
    child.stdin.write((DUMPS / "thank-you-reloaded.jsonl").read_bytes() * 50)
    child.stdin.flush()  # and keep it open: the command waits for more

    def ready() -> bool:
        return bool(list(tmp_path.glob(".out.jsonl.*.part")))

    err = _interrupt(child, ready)
    child.stdin.close()
    assert child.returncode == 130, err
    assert b"Traceback" not in err and err.decode().strip().endswith("interrupted"), err
    assert list(tmp_path.iterdir()) == []  # nothing under the final name, no temporary file


def test_ctrl_c_in_send_with_a_spool_exits_130(exponea_server: ExponeaServer,
                                               tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"name": "customers/events", "data": {
        "customer_ids": {"registered": "u"}, "event_type": "view", "timestamp": 1.0 + n,
        "properties": {"n": n}}}) + "\n" for n in range(300)))
    exponea_server.script(Fault(delay=10, drop=True))
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "EXPONEA_PROJECT_TOKEN": exponea_server.project_token,
           "EXPONEA_API_KEY_ID": exponea_server.api_key_id,
           "EXPONEA_API_SECRET": exponea_server.api_secret, "EXPONEA_BASE_URL": exponea_server.url}
    child = subprocess.Popen(
        [sys.executable, "-m", "ga_ee_bridge", "send", str(path), "--spool",
         str(tmp_path / "send.db")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    err = _interrupt(child, lambda: len(exponea_server.requests) >= 1)
    assert child.returncode == 130, err
    assert b"Traceback" not in err and b"interrupted" in err, err


@pytest.mark.parametrize("command", [[], ["convert"], ["validate"], ["send"], ["spool"],
                                     ["spool", "list"], ["spool", "retry"], ["spool", "export"]],
                         ids=lambda c: " ".join(c) or "(top)")
def test_every_help_has_examples_and_no_rst(command: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, *command, "--help")
    assert status == 0
    assert "\nExamples:\n  ga-ee-bridge " in out and "``" not in out
    for line in out.split("Examples:")[1].splitlines()[1::2]:
        assert line.startswith("  ga-ee-bridge "), line


def test_ctrl_c_whose_clean_up_fails_still_exits_130(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import ga_ee_bridge.cli.validate as validate

    class BrokenLock:  # a ``with`` whose exit fails as Ctrl-C passes through it
        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> None:
            raise RuntimeError("release unlocked lock")

    def interrupted_then_broken(args: object) -> int:
        with BrokenLock():
            raise KeyboardInterrupt

    monkeypatch.setattr(validate, "run", interrupted_then_broken)
    assert main(["validate", str(DUMPS / "thank-you-reloaded.jsonl")]) == 130
    assert capsys.readouterr().err.strip() == "ga-ee-bridge validate: interrupted"
