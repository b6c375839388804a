"""How ``--jobs`` frames JSON lines and bounds what it holds; how one process hands results over."""

from __future__ import annotations

import concurrent.futures
import json
import re
import signal
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ga_ee_bridge.convert import json_stream, runner
from ga_ee_bridge.convert.encoders import ENCODERS
from ga_ee_bridge.convert.input import READ_SIZE
from ga_ee_bridge.convert.options import ConvertOptions, IdSpec
from ga_ee_bridge.convert.results import ConvertStats, Run, Segment

T0 = 1_709_294_400_000
OPTIONS = ConvertOptions(ids=(IdSpec.parse("registered=user.email"),))

# -- framing -------------------------------------------------------------------------------------

_PIECES = [b'{"event": "gtm.js"}', b'{"a": 1}', b"dataLayer", b"\\u00e9", b"gtm.js", b"gtm.j",
           b"x", b" ", b"\n", b"\n\n", b"ataLayer", b"\\", b"u", b"g"]


@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_candidate_lines_are_the_lines_the_pattern_matches(pieces: list[bytes]) -> None:
    block = b"".join(pieces)
    expected = sorted({block.rfind(b"\n", 0, match.start()) + 1
                       for match in runner._CANDIDATE.finditer(block)})
    assert runner.candidate_lines(block) == expected


def test_candidate_lines_finds_every_kind_of_page_start_once() -> None:
    lines = [b'{"event": "gtm.dom"}', b'{"gtm.start": 1, "event": "gtm.js", "x": "gtm.js"}',
             b'{"dataLayer": [], "url": "/"}', b'{"event": "gtm\\u002ejs"}', b'{"a": 1}']
    block = b"\n".join(lines) + b"\n"
    starts = [block.index(line) for line in lines]
    assert runner.candidate_lines(block) == starts[1:4]


# -- what --jobs holds -----------------------------------------------------------------------------


class _LazyPool:
    """A ProcessPoolExecutor stand-in, in this process: a task runs only when its result is
    asked for, so the tasks handed over and not collected yet can be counted."""

    outstanding: ClassVar[list[tuple[Future[Any], int]]] = []
    most: ClassVar[int] = 0
    sizes: ClassVar[list[int]] = []

    def __init__(self, jobs: int, *, mp_context: Any, initializer: Any, initargs: Any) -> None:
        previous = signal.getsignal(signal.SIGINT)
        initializer(*initargs)  # a worker's: it ignores Ctrl-C, which this process must not
        signal.signal(signal.SIGINT, previous)
        type(self).outstanding = []

    def __enter__(self) -> _LazyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def submit(self, function: Any, *args: Any) -> Future[Any]:
        cls = type(self)
        future: Future[Any] = Future()
        pieces = args[2] or []
        size = sum(len(data) for _, data in pieces if type(data) is bytes)
        original = future.result

        def result(timeout: float | None = None) -> Any:
            if not future.done():
                future.set_result(function(*args))
                cls.outstanding = [(f, s) for f, s in cls.outstanding if f is not future]
            return original(timeout)

        future.result = result  # type: ignore[method-assign]
        cls.outstanding.append((future, size))
        cls.sizes.append(size)
        cls.most = max(cls.most, len(cls.outstanding))
        return future


def _page(page: int, products: int) -> list[dict[str, Any]]:
    items = [{"id": f"P{page}-{n}", "name": f"Product {n}", "price": "1.50"}
             for n in range(products)]
    return [{"user": {"email": f"u{page % 5}@example.com"}},
            {"gtm.start": T0 + page * 60_000, "event": "gtm.js"},
            {"event": "detail", "ecommerce": {"detail": {"products": items}}},
            {"event": "purchase", "ecommerce": {"purchase": {
                "actionField": {"id": f"T{page % 7}"}, "products": items[:2]}}}]


def _parallel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pages: list[list[dict[str, Any]]],
              jobs: int = 2) -> tuple[bytes, bytes, ConvertStats]:
    """The JSON lines of ``pages`` converted with ``jobs`` (through :class:`_LazyPool`) and with
    one process: both outputs' commands and the parallel run's stats."""
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps(push) + "\n" for page in pages for push in page))
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", _LazyPool)
    _LazyPool.most, _LazyPool.sizes = 0, []
    stats = ConvertStats()
    texts = [_text(batch) for batch in runner.run_parallel([str(dump)], OPTIONS, "commands",
                                                          jobs, stats)]
    serial = [_text(batch) for batch in runner.run_serial(str(dump), OPTIONS,
                                                         ENCODERS["commands"], ConvertStats())]
    return "".join(texts).encode(), "".join(serial).encode(), stats


def _text(batch: list[Any]) -> str:
    return "".join(item.text if type(item) is Run else
                   "".join(line for _, line in item.events) if type(item) is Segment else ""
                   for item in batch)


def test_jobs_keep_at_most_one_task_per_job_and_one_more_pending(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    monkeypatch.setattr(runner, "TASK_BYTES", 2000)
    monkeypatch.setattr(runner, "BLOCK_BYTES", 5000)
    parallel, serial, stats = _parallel(tmp_path, monkeypatch,
                                        [_page(n, 3) for n in range(200)])
    assert parallel == serial
    assert len(_LazyPool.sizes) > 20  # many tasks...
    assert all(size < 2000 + 2000 for size in _LazyPool.sizes[:-1])  # ...cut near the bound
    # jobs + 1 pending (one running per job, one waiting) and the one just handed over
    assert _LazyPool.most == 4
    assert stats.pages == 200


def test_a_task_bigger_than_the_bound_waits_for_the_ones_before_it(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    monkeypatch.setattr(runner, "TASK_BYTES", 2000)
    monkeypatch.setattr(runner, "BLOCK_BYTES", 5000)
    pages = [_page(n, 2) for n in range(30)]
    pages[20] = _page(20, 500)  # one page of more than ten tasks' worth
    seen: list[int] = []
    original = _LazyPool.submit

    def submit(self: _LazyPool, function: Any, *args: Any) -> Future[Any]:
        future = original(self, function, *args)
        seen.append(len(type(self).outstanding))
        return future

    monkeypatch.setattr(_LazyPool, "submit", submit)
    parallel, serial, _ = _parallel(tmp_path, monkeypatch, pages)
    assert parallel == serial
    big = max(range(len(_LazyPool.sizes)), key=_LazyPool.sizes.__getitem__)
    assert _LazyPool.sizes[big] > 10 * 2000
    assert seen[big] <= 4
    assert seen[big + 1] == 2  # the tasks before it were collected: nothing else is held


# -- one process ----------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["jsonl", "json"])
def test_one_process_hands_results_over_after_every_read(tmp_path: Path, form: str) -> None:
    pushes = [push for page in range(200) for push in _page(page, 100)]
    dump = tmp_path / f"big.{form}"
    if form == "jsonl":
        dump.write_text("".join(json.dumps(push) + "\n" for push in pushes))
    else:
        dump.write_text(json.dumps(pushes))
    read = READ_SIZE if form == "jsonl" else json_stream.CHUNK  # lines, or JSON text
    size = dump.stat().st_size
    assert size > 4 * read
    batches = list(runner.run_serial(str(dump), OPTIONS, ENCODERS["commands"], ConvertStats()))
    assert len(batches) >= size // read  # not only every BATCH records
    # each batch holds one read's results (some five times its size here), never a few reads'
    assert max(len(_text(batch)) for batch in batches) < 8 * read
    assert re.fullmatch(r"(\{[^\n]*\}\n)+", "".join(_text(batch) for batch in batches))


def test_a_tasks_runs_carry_its_event_counts_once_between_purchases() -> None:
    items: list[Any] = [Segment(None, [("view", "a\n"), ("click", "b\n")]),
                        Segment("T1", [("purchase", "p\n")]),
                        Segment(None, [("view", "c\n")]),
                        Segment("T2", [("purchase", "q\n")]),
                        Segment(None, [("view", "d\n")])]
    joined = runner._joined(items)
    assert [type(item).__name__ for item in joined] == ["Run", "Segment", "Run", "Segment", "Run"]
    assert [item.text for item in joined if type(item) is Run] == ["a\nb\n", "c\n", "d\n"]
    assert [item.counts for item in joined if type(item) is Run] == [
        {"view": 3, "click": 1}, {}, {}]  # purchases are counted after the duplicate check
    assert runner._joined([Segment("T1", [("purchase", "p\n")])]) == [
        Segment("T1", [("purchase", "p\n")])]
