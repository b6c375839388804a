"""``--summary-json`` adds up on every shipped dump; the progress bar has a total, a percentage and
an ETA from the input's (compressed) size; outputs are atomic."""

from __future__ import annotations

import gzip
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

from ga_ee_bridge.cli import main
from ga_ee_bridge.convert.outputs import WRITE_BUFFER, AtomicFile, standard_output

DUMPS = REPO / "fixtures" / "dumps"
SHIPPED = sorted(p for p in DUMPS.iterdir() if p.is_file())


@pytest.mark.parametrize("dump", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_summary_adds_up_on_every_shipped_dump(dump: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "s.json"
    status = main(["convert", str(dump), "-q", "-o", str(tmp_path / "o.jsonl"),
                   "--summary-json", str(summary), "--id", "registered=user.email"])
    record = json.loads(summary.read_text())
    assert set(record) == {"pushes", "ecommerce", "skipped", "unsupported", "duplicates",
                           "rejected", "events", "rejects_by_reason", "warnings", "inputs",
                           "seconds"}
    assert record["pushes"] > 0
    assert record["pushes"] == record["ecommerce"] + record["skipped"] + record["unsupported"]
    assert record["rejected"] == sum(record["rejects_by_reason"].values())
    assert status == (3 if record["rejected"] else 0)
    lines = (tmp_path / "o.jsonl").read_text().splitlines()
    assert sum(record["events"].values()) == len(lines)
    assert record["inputs"] == [str(dump)]
    assert record["unsupported"] == sum(record["warnings"]["unsupported_events"].values()) + sum(
        record["warnings"]["not_for_analytics"].values())


def test_summary_json_of_validate_and_to_standard_output(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    assert main(["validate", str(DUMPS / "thank-you-reloaded.jsonl"), "-q",
                 "--summary-json", "-"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["duplicates"] == 1  # as convert counts them
    assert main(["convert", str(DUMPS / "thank-you-reloaded.jsonl"), "-q", "-o", os.devnull,
                 "--summary-json", "-"]) == 0
    converted = json.loads(capsys.readouterr().out)
    assert converted["duplicates"] == 1


def _on_a_terminal(args: list[str], cwd: Path) -> bytes:
    primary, secondary = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "ga_ee_bridge", *args], stderr=secondary,
                          stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)},
                          cwd=cwd, timeout=120, check=False)
    os.close(secondary)
    shown = b""
    try:
        while chunk := os.read(primary, 65536):
            shown += chunk
    except OSError:
        pass
    os.close(primary)
    assert done.returncode == 0, shown
    return shown


def test_progress_counts_compressed_bytes_with_percentage_and_eta(tmp_path: Path) -> None:
    from tqdm import tqdm

    page = (DUMPS / "thank-you-reloaded.jsonl").read_bytes()
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress(page * 3000, compresslevel=1))
    shown = _on_a_terminal(["convert", str(path), "-o", "out.jsonl"], tmp_path).decode()
    total = tqdm.format_sizeof(path.stat().st_size, "", 1024)
    assert f"/{total}B [" in shown  # compressed bytes, not the unzipped size
    assert "  0%|" in shown and "100%|" in shown  # the percentage
    assert re.search(r"\[00:0\d<(\?|00:0\d), ", shown)  # elapsed < ETA
    assert "ga-ee-bridge: read 30,000 pushes" in shown
    quiet = _on_a_terminal(["convert", str(path), "-o", "out.jsonl", "-q"], tmp_path)
    assert quiet == b""


def test_an_atomic_file_appears_only_when_committed(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt), AtomicFile(str(target)) as out:
        out.stream.write("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old\n" and len(list(tmp_path.iterdir())) == 1
    with AtomicFile(str(target)) as out:
        out.stream.write("new\n")
        assert target.read_text() == "old\n"
    assert target.read_text() == "new\n" and len(list(tmp_path.iterdir())) == 1
    assert (target.stat().st_mode & 0o777) == 0o666 & ~_umask()


def test_an_atomic_file_is_written_in_big_blocks_and_a_fifo_line_by_line(tmp_path: Path) -> None:
    # A write system call every 8 KiB cost a converter a tenth of its time (benchmarks/).
    target = tmp_path / "out.jsonl"
    with AtomicFile(str(target)) as out:
        for _ in range(WRITE_BUFFER // 200):
            out.stream.write("x" * 99 + "\n")
        (temp,) = [path for path in tmp_path.iterdir() if path.name.endswith(".part")]
        assert temp.stat().st_size == 0  # all still in the buffer
    assert target.stat().st_size == WRITE_BUFFER // 200 * 100
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with AtomicFile(str(fifo)) as out:
            for _ in range(200):
                out.stream.write("x" * 99 + "\n")
            assert len(os.read(reader, 1 << 16)) >= 10_000  # its reader sees lines soon
    finally:
        os.close(reader)


def test_standard_output_redirected_to_a_file_is_buffered_like_a_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "redirected.jsonl"
    with open(target, "w", encoding="utf-8") as redirected:
        monkeypatch.setattr(sys, "stdout", redirected)
        redirected.write("first\n")
        stream = standard_output()
        assert stream is not redirected
        stream.write("x" * 99 + "\n")
        assert target.read_text() == "first\n"  # flushed before, the rest held
        stream.flush()
        assert target.read_text() == "first\n" + "x" * 99 + "\n"
    reader, writer = os.pipe()
    with os.fdopen(reader, "rb") as _, os.fdopen(writer, "w") as pipe:
        monkeypatch.setattr(sys, "stdout", pipe)
        assert standard_output() is pipe  # a pipe's reader sees lines soon


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize(("event", "kind"), [("view_item_list", "impressions"),
                                             ("add_to_cart", "add")])
def test_kind_takes_ga4_event_names_for_their_section(event: str, kind: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for name in (event, kind):
        out = tmp_path / f"{name}.jsonl"
        assert main(["convert", str(DUMPS / "ga4-page.json"), "-q", "--kind", name,
                     "-o", str(out)]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0]
    everything = tmp_path / "all.jsonl"
    assert main(["convert", str(DUMPS / "ga4-page.json"), "-q", "-o", str(everything)]) == 0
    assert len(outputs[0]) < everything.stat().st_size
    capsys.readouterr()
    assert main(["convert", "--help"]) == 0
    helped = " ".join(capsys.readouterr().out.split())
    assert f"{event} -> {kind}" in helped and "view_item -> detail" in helped
    assert "Examples:" in helped and "``" not in helped
