"""``ga-ee-bridge send`` and ``ga-ee-bridge spool`` against the local server."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import REPO

from ga_ee_bridge.cli import main
from ga_ee_bridge.send.spool import Spool
from ga_ee_bridge.testing.server import ExponeaServer, Fault

ROOT = REPO


def _command(n: int, *, timestamp: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"customer_ids": {"registered": f"u{n % 7}"}, "event_type": "view",
                            "properties": {"n": n}}
    if timestamp:
        data["timestamp"] = 1_700_000_000.0 + n
    return {"name": "customers/events", "data": data}


def _write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


@pytest.fixture
def env(exponea_server: ExponeaServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"EXPONEA_PROJECT_TOKEN": exponea_server.project_token,
              "EXPONEA_API_KEY_ID": exponea_server.api_key_id,
              "EXPONEA_API_SECRET": exponea_server.api_secret,
              "EXPONEA_BASE_URL": exponea_server.url}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("EXPONEA_PUBLIC_TOKEN", raising=False)
    return values


def test_send_delivers_everything(env: dict[str, str], exponea_server: ExponeaServer,
                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _write(tmp_path / "a.jsonl", [_command(n) for n in range(70)])
    second = _write(tmp_path / "b.jsonl", [_command(n, timestamp=False) for n in range(70, 80)]
                    + [""])
    exponea_server.script(Fault(status=429, retry_after=0.01), Fault(status=429, retry_after=0))
    assert main(["send", str(first), str(second), "--max-retry-time", "5"]) == 0
    err = capsys.readouterr().err
    assert "80 accepted, 0 failed, 2 retried" in err
    assert env["EXPONEA_API_SECRET"] not in err
    events = exponea_server.events
    assert sorted(e["properties"]["n"] for e in events) == list(range(80))
    assert all(isinstance(e["timestamp"], float) for e in events)  # stamped when missing
    assert max(r.commands for r in exponea_server.requests) == 50


def test_send_reports_bad_lines_and_refusals(env: dict[str, str], exponea_server: ExponeaServer,
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    exponea_server.reject_commands(
        lambda c: "no such event" if c["data"]["properties"].get("n") == 2 else None)
    path = _write(tmp_path / "c.jsonl", [_command(0), "{oops", _command(2),
                                         {"name": "customers/events", "data": {}}])
    assert main(["send", str(path)]) == 3
    err = capsys.readouterr().err
    assert "1 accepted, 3 failed" in err
    assert f"{path}:2: not JSON" in err
    assert f"{path}:4: command.data.customer_ids" in err
    assert "no such event" in err


def test_send_all_refused_is_1(env: dict[str, str], exponea_server: ExponeaServer,
                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPONEA_API_SECRET", "wrong")
    path = _write(tmp_path / "d.jsonl", [_command(0)])
    assert main(["send", str(path)]) == 1
    assert exponea_server.commands == []


def test_send_usage_errors(env: dict[str, str], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", str(tmp_path / "missing.jsonl")]) == 2
    path = _write(tmp_path / "e.jsonl", [_command(0)])
    monkeypatch.delenv("EXPONEA_API_SECRET")
    assert main(["send", str(path)]) == 2
    assert "EXPONEA_API_SECRET" in capsys.readouterr().err
    monkeypatch.delenv("EXPONEA_PROJECT_TOKEN")
    assert main(["send", str(path)]) == 2


def test_send_with_public_token(env: dict[str, str], exponea_server: ExponeaServer,
                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXPONEA_API_KEY_ID")
    monkeypatch.delenv("EXPONEA_API_SECRET")
    monkeypatch.setenv("EXPONEA_PUBLIC_TOKEN", exponea_server.public_token)
    assert main(["send", str(_write(tmp_path / "f.jsonl", [_command(0)]))]) == 0
    assert exponea_server.requests[0].auth == "public"


def test_send_max_rps(env: dict[str, str], exponea_server: ExponeaServer, tmp_path: Path) -> None:
    path = _write(tmp_path / "g.jsonl", [_command(n) for n in range(200)])  # 4 requests
    started = time.monotonic()
    assert main(["send", str(path), "--max-rps", "10"]) == 0
    assert time.monotonic() - started >= 0.29  # 4 requests at 10/s: 3 gaps of 0.1 s
    times = [r.at for r in exponea_server.requests]
    # not sent in one burst (the server records a request when it handles it: allow for load)
    assert len(times) == 4 and times[-1] - times[0] >= 0.2


def test_send_resumes_from_the_spool_after_sigkill(env: dict[str, str],
                                                   exponea_server: ExponeaServer,
                                                   tmp_path: Path) -> None:
    path = _write(tmp_path / "h.jsonl", [_command(n) for n in range(1000)])
    spool = tmp_path / "send.db"
    exponea_server.script(None, None, None, Fault(delay=10, drop=True))  # the 4th hangs
    child = subprocess.Popen(
        [sys.executable, "-m", "ga_ee_bridge", "send", str(path), "--spool", str(spool)],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while len(exponea_server.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    sent_before = len(exponea_server.events)
    assert 0 < sent_before < 1000
    assert main(["send", str(path), "--spool", str(spool)]) == 0
    counts = collections.Counter(e["properties"]["n"] for e in exponea_server.events)
    assert sorted(counts) == list(range(1000))
    # Accepted lines are not sent again: at most the batch in flight at the kill is repeated.
    assert sum(counts.values()) <= 1000 + 50
    assert main(["send", str(path), "--spool", str(spool)]) == 0  # a third run sends nothing new
    assert len(exponea_server.events) == sum(counts.values())


def _dead_spool(exponea_server: ExponeaServer, env: dict[str, str], tmp_path: Path) -> Path:
    exponea_server.reject_commands(
        lambda c: "refused" if c["data"]["properties"].get("n", 0) < 2 else None)
    path = _write(tmp_path / "i.jsonl", [_command(n) for n in range(4)])
    spool = tmp_path / "dead.db"
    assert main(["send", str(path), "--spool", str(spool)]) == 3
    exponea_server.reset()
    return spool


def test_spool_list_export_retry(env: dict[str, str], exponea_server: ExponeaServer,
                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spool = _dead_spool(exponea_server, env, tmp_path)
    capsys.readouterr()
    assert main(["spool", "list", str(spool)]) == 0
    out = capsys.readouterr().out
    assert "0 pending, 2 dead letter(s)" in out and out.count("refused") == 2

    assert main(["spool", "list", str(spool), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["command"]["data"]["properties"]["n"] for r in records] == [0, 1]

    exported = tmp_path / "dead.jsonl"
    assert main(["spool", "export", str(spool), "-o", str(exported)]) == 0
    commands = [json.loads(line) for line in exported.read_text().splitlines()]
    assert commands == [r["command"] for r in records]

    assert main(["spool", "retry", str(spool), str(records[0]["id"])]) == 0
    assert [e["properties"]["n"] for e in exponea_server.events] == [0]
    store = Spool(spool)
    assert store.counts() == {"pending": 0, "dead": 1}
    store.close()


def test_spool_retry_without_connection_only_marks(env: dict[str, str],
                                                   exponea_server: ExponeaServer,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    spool = _dead_spool(exponea_server, env, tmp_path)
    monkeypatch.delenv("EXPONEA_PROJECT_TOKEN")
    assert main(["spool", "retry", str(spool)]) == 0
    store = Spool(spool)
    assert store.counts() == {"pending": 2, "dead": 0}
    store.close()
    assert exponea_server.commands == []


def test_spool_missing_file(tmp_path: Path) -> None:
    assert main(["spool", "list", str(tmp_path / "nope.db")]) == 2


# -- issue 10: resume by content, byte-identical resends, unreadable lines -----------------------

def _events_by_n(server: ExponeaServer) -> dict[int, list[str]]:
    copies: dict[int, list[str]] = collections.defaultdict(list)
    for command in server.commands:
        copies[command["data"]["properties"]["n"]].append(json.dumps(command, sort_keys=True))
    return copies


def test_a_touched_or_copied_input_resumes_instead_of_resending(
        env: dict[str, str], exponea_server: ExponeaServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "t.jsonl", [_command(n, timestamp=False) for n in range(3000)])
    spool = str(tmp_path / "t.db")
    assert main(["send", str(path), "--spool", spool]) == 0
    assert len(exponea_server.events) == 3000
    os.utime(path, (time.time() + 100, time.time() + 100))  # touched
    assert main(["send", str(path), "--spool", spool]) == 0
    copy = tmp_path / "elsewhere" / "copy.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())  # copied (or downloaded again)
    assert main(["send", str(copy), "--spool", spool]) == 0
    assert "same content as" in capsys.readouterr().err
    copies = _events_by_n(exponea_server)
    assert sorted(copies) == list(range(3000)) and max(map(len, copies.values())) == 1


def test_resent_lines_after_a_kill_and_a_touch_are_byte_identical(
        env: dict[str, str], exponea_server: ExponeaServer, tmp_path: Path) -> None:
    path = _write(tmp_path / "k.jsonl", [_command(n, timestamp=False) for n in range(1000)])
    spool = tmp_path / "k.db"
    exponea_server.script(None, None, Fault(delay=10, drop=True, process=True))
    child = subprocess.Popen(
        [sys.executable, "-m", "ga_ee_bridge", "send", str(path), "--spool", str(spool)],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while len(exponea_server.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.3)  # the third request is processed (recorded) but never answered
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    os.utime(path)  # touched between the runs
    assert main(["send", str(path), "--spool", str(spool)]) == 0
    copies = _events_by_n(exponea_server)
    assert sorted(copies) == list(range(1000))
    assert sum(map(len, copies.values())) <= 1000 + 50  # only the unanswered batch again
    assert all(len(set(c)) == 1 for c in copies.values())  # and byte-identical, stamps included
    ids = [c.get("command_id") for c in exponea_server.commands]
    assert all(ids) and len(set(ids)) == 1000


def test_a_changed_input_is_refused_unless_restart(
        env: dict[str, str], exponea_server: ExponeaServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "c.jsonl", [_command(n) for n in range(60)])
    spool = str(tmp_path / "c.db")
    assert main(["send", str(path), "--spool", spool]) == 0
    _write(path, [_command(n + 100) for n in range(60)])  # same name, other content
    capsys.readouterr()
    assert main(["send", str(path), "--spool", spool]) == 2
    err = capsys.readouterr().err
    assert f"{path}: changed since a run stored its progress" in err and "--restart" in err
    assert len(exponea_server.events) == 60  # nothing sent
    assert main(["send", str(path), "--spool", spool, "--restart"]) == 0
    assert sorted(e["properties"]["n"] for e in exponea_server.events) == [
        *range(60), *range(100, 160)]
    with path.open("a") as out:  # lines appended to a sent file: only they go out
        out.write(json.dumps(_command(500)) + "\n")
    assert main(["send", str(path), "--spool", spool]) == 0
    assert len(exponea_server.events) == 121


def _with_a_bad_byte(path: Path, count: int, bad: int) -> Path:
    lines = [json.dumps(_command(n)).encode() for n in range(count)]
    lines[bad] = b'{"name": "customers/events", "data": {"x": "\xff\xfe"}}'
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("spooled", [False, True])
def test_a_non_utf8_line_is_one_refusal_and_the_rest_is_delivered(
        env: dict[str, str], exponea_server: ExponeaServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], spooled: bool) -> None:
    path = _with_a_bad_byte(tmp_path / "u.jsonl", 400, 199)
    spool = ["--spool", str(tmp_path / "u.db")] if spooled else []
    assert main(["send", str(path), *spool]) == 3
    err = capsys.readouterr().err
    assert "399 accepted, 1 failed" in err
    assert f"{path}:200: not UTF-8: byte 0xff at column 45" in err
    assert sorted(e["properties"]["n"] for e in exponea_server.events) == [
        n for n in range(400) if n != 199]
    if spooled:  # the rerun remembers the refusal and sends nothing again
        assert main(["send", str(path), *spool]) == 3
        err = capsys.readouterr().err
        assert "0 accepted, 0 failed" in err and "1 refused line(s) in all" in err
        assert len(exponea_server.events) == 399
        store = Spool(tmp_path / "u.db")
        (letter,) = store.dead_letters()
        assert letter.reason.startswith(f"{path}:200: not UTF-8")
        assert letter.command["source"] == f"{path}:200"
        assert store.retry() == 0  # an unreadable line is not a command to send again
        store.close()


def test_unreadable_lines_are_remembered_after_a_kill(
        env: dict[str, str], exponea_server: ExponeaServer, tmp_path: Path) -> None:
    path = _with_a_bad_byte(tmp_path / "v.jsonl", 100, 2)
    spool = tmp_path / "v.db"
    exponea_server.script(Fault(delay=10, drop=True))  # the first request hangs
    child = subprocess.Popen(
        [sys.executable, "-m", "ga_ee_bridge", "send", str(path), "--spool", str(spool)],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not spool.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(1.0)  # the first chunks are stored, the first request hangs
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    result = subprocess.run(
        [sys.executable, "-m", "ga_ee_bridge", "send", str(path), "--spool", str(spool)],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=60)
    assert result.returncode == 3, result.stderr
    assert "1 refused line(s) in all" in result.stderr or "not UTF-8" in result.stderr
    assert sorted(set(e["properties"]["n"] for e in exponea_server.events)) == [
        n for n in range(100) if n != 2]


def test_spool_list_names_unreadable_lines_and_refuses_a_file_that_is_no_spool(
        env: dict[str, str], exponea_server: ExponeaServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = _with_a_bad_byte(tmp_path / "w.jsonl", 3, 1)
    spool = tmp_path / "w.db"
    assert main(["send", str(path), "--spool", str(spool)]) == 3
    capsys.readouterr()
    assert main(["spool", "list", str(spool)]) == 0
    out = capsys.readouterr().out
    assert "0 pending, 1 dead letter(s)" in out
    assert f"unreadable line {path}:2" in out and "not UTF-8" in out
    bogus = _write(tmp_path / "bogus.db", ["this is not SQLite" * 100])
    assert main(["spool", "list", str(bogus)]) == 2  # a usage error, like any wrong file
    assert f"{bogus} is not a spool" in capsys.readouterr().err


def test_send_reads_stdin(env: dict[str, str], exponea_server: ExponeaServer,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    lines = b"\n".join(json.dumps(_command(n, timestamp=False)).encode() for n in range(3))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines + b"\n\xff\n")))
    assert main(["send", "-"]) == 3
    assert sorted(e["properties"]["n"] for e in exponea_server.events) == [0, 1, 2]
    assert all(isinstance(e["timestamp"], float) for e in exponea_server.events)
