"""Spool faults (issue 10, finding 4): SpoolError to the caller, a sender that never dies, group
commit, accepted rows deleted in ranges."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ga_ee_bridge.errors import GaEeBridgeError, SpoolError
from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.spool import Spool, id_ranges
from ga_ee_bridge.testing.server import ExponeaServer, Fault

FAST = {"backoff": 0.005, "max_backoff": 0.05, "flush_interval": 0.02}
BIG = {f"p{i}": "z" * 8000 for i in range(4)}  # ~32 KB an event


def client_for(server: ExponeaServer, spool: Spool, **options: Any) -> Exponea:
    return Exponea(server.project_token, api_key_id=server.api_key_id,
                   api_secret=server.api_secret, base_url=server.url, spool=spool,
                   **{**FAST, **options})


def _fill(client: Exponea, start: int, limit: int = 400) -> tuple[int, SpoolError]:
    """Track big events until the spool refuses one; returns how many went in and the error."""
    visitor = client.customer(cookie="c")
    for n in range(start, start + limit):
        try:
            visitor.track("big", {**BIG, "n": n})
        except SpoolError as error:
            return n, error
    raise AssertionError("the spool never filled up")


def test_a_full_spool_is_a_spool_error_and_the_sender_goes_on(
        exponea_server: ExponeaServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "small.db"
    exponea_server.script(Fault(delay=0.5))  # nothing is delivered while we fill the spool
    client = client_for(exponea_server, Spool(path, max_bytes=512 * 1024))
    with caplog.at_level(logging.WARNING, "ga_ee_bridge"):
        stored, error = _fill(client, 0)
        assert isinstance(error, GaEeBridgeError) and isinstance(error, OSError)
        assert error.path == str(path) and error.cause == "disk full"
        assert str(error).startswith(f"spool {path}: disk full")
        assert "no transaction is active" not in str(error)
        assert client.flush(10)  # what was stored is delivered; delivered rows free the room
        visitor = client.customer(cookie="c")
        for n in range(1000, 1005):  # room again: the calls succeed
            visitor.track("big", {**BIG, "n": n})
        assert client.flush(10)
    client.close(5)
    delivered = sorted(e["properties"]["n"] for e in exponea_server.events)
    assert delivered == [*range(stored), *range(1000, 1005)]  # the refused call stored nothing
    assert not [r for r in caplog.records if r.exc_info]  # no traceback: nothing died
    check = Spool(path)
    assert check.counts() == {"pending": 0, "dead": 0}  # every delivered row was deleted
    check.close()


@contextlib.contextmanager
def _small_disk(where: Path, size: str = "2m") -> Iterator[Path]:
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill_disk(path: Path) -> None:
    with path.open("wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 4096)


def test_a_full_real_disk(exponea_server: ExponeaServer, tmp_path: Path,
                          caplog: pytest.LogCaptureFixture) -> None:
    with _small_disk(tmp_path / "disk") as disk, caplog.at_level(logging.WARNING,
                                                                  "ga_ee_bridge"):
        spool = Spool(disk / "spool.db")
        client = client_for(exponea_server, spool)
        visitor = client.customer(cookie="c")
        visitor.track("first", {"n": -1})
        assert client.flush(10)
        filler = disk / "filler"
        _fill_disk(filler)
        stored, error = _fill(client, 0, limit=200)
        assert error.cause == "disk full" and str(disk / "spool.db") in str(error)
        filler.unlink()  # the disk has room again
        visitor.track("after", {"n": 10_000})  # the sender is alive and takes calls again
        assert client.flush(10)
        client.close(5)
        check = Spool(disk / "spool.db")
        assert check.counts() == {"pending": 0, "dead": 0}
        check.close()
    numbers = [e["properties"]["n"] for e in exponea_server.events]
    assert sorted(set(numbers)) == [-1, *range(stored), 10_000]
    assert not [r for r in caplog.records if r.exc_info]


def test_concurrent_writers_share_transactions(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "group.db", synchronous="full")
    command = {"name": "customers/events", "data": {"customer_ids": {"c": "1"}}}
    ids: list[list[int]] = []

    def writer() -> None:
        for _ in range(40):
            ids.append(spool.add([command, command]))

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert spool.counts()["pending"] == 640
    flat = [i for pair in ids for i in pair]
    assert len(set(flat)) == 640 and all(b == a + 1 for a, b in ids)  # each call's ids in order
    assert spool.commits < 320  # fewer transactions than calls: writers were combined
    single = Spool(tmp_path / "single.db", group_commit=False)
    for _ in range(5):
        single.add([command])
    assert single.commits == 5
    spool.close()
    single.close()


@given(st.sets(st.integers(1, 300), max_size=60))
def test_id_ranges_cover_exactly_the_ids(ids: set[int]) -> None:
    runs = id_ranges(ids)
    covered = [i for first, last in runs for i in range(first, last + 1)]
    assert covered == sorted(ids)
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(runs))  # maximal runs


def test_accepted_rows_are_deleted_by_range_and_only_they(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "r.db")
    ids = spool.add([{"n": n} for n in range(10)])
    spool.finish([ids[0], ids[1], ids[2], ids[5], ids[6]], [(ids[9], 400, "bad")])
    assert [c["n"] for _, c in spool.take(10)] == [3, 4, 7, 8]
    assert [d.command["n"] for d in spool.dead_letters()] == [9]
    spool.close()
