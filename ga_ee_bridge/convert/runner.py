"""Running conversions: in this process, or page by page in worker processes (``--jobs``).

With several jobs the main process frames the input and cuts it only where :class:`Converter`
starts a page (:class:`_Framer` mirrors its rule); workers convert whole pages and the results are
put back in input order, so the output is the same as with one process. JSON lines are framed in
blocks, decoding only the lines that may start a page; JSON text is decoded here to find its
pushes and sent on as text. A page too long for one task is converted here, in order.

What the main process holds is bounded in bytes: blocks and tasks of :data:`TASK_BYTES`, and
at most ``jobs + 1`` tasks' worth pending (their results wait here to be collected in order).
"""

from __future__ import annotations

import re
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ga_ee_bridge.convert.converter import Converter
from ga_ee_bridge.convert.encoders import ENCODERS, Encoder
from ga_ee_bridge.convert.input import (
    PAGE_END,
    READ_ERRORS,
    UNDECODED,
    Broken,
    DumpError,
    PageStart,
    RawRecord,
    Source,
    detect_form,
    input_name,
    is_gtm_js,
    is_page_object,
    jsonl_blocks,
    open_input,
    unreadable,
)
from ga_ee_bridge.convert.options import ConvertOptions
from ga_ee_bridge.convert.reasons import RejectReason
from ga_ee_bridge.convert.records import decode_line
from ga_ee_bridge.convert.results import (
    ConvertStats,
    Item,
    Reject,
    Run,
    Segment,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["run_parallel", "run_serial"]

#: Whole JSON lines ``(number of the first, bytes)``, or a line too long to hold (its record).
Piece = tuple[int, "bytes | Broken"]

#: Records converted between two hand-overs to the caller (one process); a hand-over also
#: follows each read of the input (``input.READ_SIZE``, 256 KiB), so that the results of big
#: pushes do not pile up.
BATCH = 2000
#: Records per worker task for framed records (JSON lists); cut at page boundaries only.
TASK_RECORDS = 4000
#: Bytes per worker task (of JSON lines, or of framed records' text, whichever bound is met
#: first); cut at page boundaries only. Bounds memory with big pushes (100 products each): the
#: main process holds the results of ``jobs + 1`` tasks at most (measured: 192 KiB keeps it
#: under 45 MiB with 100-product pushes, 256 KiB does not; smaller tasks cost the main
#: process more per push).
TASK_BYTES = 3 << 16
#: Tasks per job handed over before the oldest one's results are waited for (small tasks);
#: with full ones, as many as hold ``jobs + 1`` tasks' worth of bytes: one running per job and
#: one waiting, which keeps the workers busy. Results are held here until collected in order.
QUEUED = 2
#: Blocks of JSON lines framed here (read, searched for page starts, cut into tasks): a task's
#: size, so that a block, its cuts and what is read next are not held at once.
BLOCK_BYTES = TASK_BYTES
#: A page longer than this (records, or bytes of text) is converted in the main process.
LONG_PAGE = 200_000
LONG_BYTES = 1 << 26


def _not_a_dump(name: str, err: DumpError, stats: ConvertStats) -> Reject:
    stats.rejects[RejectReason.NOT_A_DUMP] += 1
    return Reject(name, 1, None, RejectReason.NOT_A_DUMP, (("", str(err), None),), None)


def _open(path: str, options: ConvertOptions, stats: ConvertStats
          ) -> tuple[Any, Any, Reject | None]:
    stream, head = open_input(path, count=stats.count_bytes)
    stats.inputs += 1
    try:
        return stream, detect_form(head, path=input_name(path), source=options.source), None
    except DumpError as err:
        stream.close()
        return None, None, _not_a_dump(input_name(path), err, stats)


def run_serial(path: str, options: ConvertOptions, encode: Encoder,
            stats: ConvertStats) -> Iterator[list[Item]]:
    stream, form, problem = _open(path, options, stats)
    if problem is not None:
        yield [problem]
        return
    converter = Converter(options, encode, input_name(path), stats)
    out = converter.out
    with stream:
        count = 0
        mark = stats.bytes_read  # input read (in chunks) since the last hand-over
        feed = converter.feed
        for record in form.raw_records(stream, keep_text=False,
                                       max_record=options.max_record_size):
            feed(record)
            count += 1
            if (count >= BATCH or stats.bytes_read > mark) and out:
                yield out[:]
                out.clear()
                count = 0
                mark = stats.bytes_read
        converter.finish()
    if out:
        yield out[:]
        out.clear()


_WORKER: tuple[ConvertOptions, Encoder, bool] | None = None


def _init_worker(options: ConvertOptions, encoder: str) -> None:
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _WORKER = (options, ENCODERS[encoder], encoder == "commands")


def _feed_lines(converter: Converter, pieces: list[Piece]) -> None:
    """Feed whole JSON lines (``(first line number, bytes)`` pieces) as JSONL reading does."""
    feed = converter.feed
    for first, data in pieces:
        if isinstance(data, Broken):  # a line too long to hold
            feed((first, None, None, data))
            continue
        for number, line in enumerate(data.split(b"\n"), first):
            if line.strip():
                feed((number, None, line, UNDECODED))


def _work(name: str, records: list[RawRecord] | None,
          pieces: list[Piece] | None) -> tuple[list[Item], ConvertStats]:
    """A worker's task: whole pages, as records or as JSON-lines bytes."""
    assert _WORKER is not None
    options, encode, joinable = _WORKER
    converter = Converter(options, encode, name)
    if pieces is not None:
        _feed_lines(converter, pieces)
    else:
        feed = converter.feed
        for record in records or ():
            feed(record)
    converter.finish()
    out = _joined(converter.out) if joinable else converter.out
    return out, converter.stats


def _joined(items: list[Item]) -> list[Item]:
    """Commands of pushes that are no purchase joined into :class:`Run`s (in order).

    Event counts are only ever summed, so the first run carries those of all of them and the
    others none: the main process adds one count per task, not one per run.
    """
    result: list[Item] = []
    texts: list[str] = []
    counts: dict[str, int] = {}
    first = -1  # where the first run is
    for item in items:
        if type(item) is Segment and item.transaction is None:
            for event_type, text in item.events:
                texts.append(text)
                counts[event_type] = counts.get(event_type, 0) + 1
            continue
        if texts:
            first = len(result) if first < 0 else first
            result.append(Run("".join(texts), {}))
            texts = []
        result.append(item)
    if texts:
        first = len(result) if first < 0 else first
        result.append(Run("".join(texts), {}))
    if first >= 0:
        result[first] = Run(result[first].text, counts)  # type: ignore[union-attr]
    return result


#: What a line that may begin a page holds: GTM's ``gtm.js`` event, a page object's
#: ``dataLayer``, or a ``\\u`` escape (which may spell either).
_NEEDLES = (b"gtm.js", b"dataLayer", b"\\u")
_CANDIDATE = re.compile(rb"gtm\.js|dataLayer|\\u")


class _Framer:
    """Where pages begin, seen from the main process, exactly as :class:`Converter` decides."""

    __slots__ = ("after_page", "has_gtm", "in_object")

    def __init__(self) -> None:
        self.has_gtm = self.in_object = self.after_page = False

    def boundary(self, value: Any) -> bool:
        """Whether a page begins at the record whose (decoded, if known) value this is."""
        boundary = self.after_page
        self.after_page = False
        if type(value) is Source:  # a page (or pages) of its own
            boundary = self.after_page = True
            self.in_object = self.has_gtm = False
        elif type(value) is PageStart:
            boundary = self.in_object = True
        elif value is PAGE_END:
            self.in_object = self.has_gtm = False
            self.after_page = True
        elif is_page_object(value):
            boundary = self.after_page = True
            self.has_gtm = False
        elif not self.in_object and is_gtm_js(value):
            boundary = boundary or self.has_gtm
            self.has_gtm = True
        return boundary

    def line_boundaries(self, block: bytes) -> list[int]:
        """Offsets in a block of whole JSON lines where pages begin (candidates only decoded)."""
        found: list[int] = []
        if self.after_page:
            found.append(0)
            self.after_page = False
        find = block.find
        for start in candidate_lines(block):
            end = find(b"\n", start)
            end = len(block) if end < 0 else end + 1
            value = decode_line(block[start:end])
            if self.boundary(value):
                found.append(start)
            if self.after_page:
                found.append(end)
                self.after_page = False
        return found


def candidate_lines(block: bytes) -> list[int]:
    """Where the lines of ``block`` that :data:`_CANDIDATE` matches start, in order.

    Each text is looked for with ``bytes.find`` (twice as fast as the regex over a block), and
    the rest of a line that has it is skipped.
    """
    starts: set[int] = set()
    find, rfind = block.find, block.rfind
    for needle in _NEEDLES:
        if needle == b"\\u" and find(b"\\") < 0:  # one byte is found 20 times faster than two
            continue
        at = find(needle)
        while at >= 0:
            starts.add(rfind(b"\n", 0, at) + 1)
            end = find(b"\n", at)
            if end < 0:
                break
            at = find(needle, end + 1)
    return sorted(starts)


def run_parallel(inputs: list[str], options: ConvertOptions, encoder: str, jobs: int,
              stats: ConvertStats) -> Iterator[list[Item]]:
    import multiprocessing  # here: most runs use one process
    from concurrent.futures import ProcessPoolExecutor

    encode = ENCODERS[encoder]
    context = multiprocessing.get_context("fork" if "fork" in
                                          multiprocessing.get_all_start_methods() else None)
    # Tasks handed over and not collected yet, each with its size in whole tasks' worth of
    # input (a page longer than a task makes a bigger one): its results, held here until the
    # tasks before it are collected, grow with it.
    pending: deque[tuple[Future[tuple[list[Item], ConvertStats]], int]] = deque()
    held = 0  # the sizes of the pending tasks
    most = jobs + 1

    def collect(limit: int) -> Iterator[list[Item]]:
        nonlocal held
        while len(pending) > limit or (len(pending) > 1 and held > most):
            future, size = pending.popleft()
            held -= size
            items, part = future.result()
            stats.add(part)
            yield items

    # A converter made here compiles the read plan and the mapping once: forked workers get them.
    Converter(options, encode, "")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                             initargs=(options, encoder)) as pool:

        def submit(name: str, records: list[RawRecord] | None, pieces: list[Piece] | None,
                   size: int) -> Iterator[list[Item]]:
            nonlocal held
            units = max(1, size // TASK_BYTES)
            pending.append((pool.submit(_work, name, records, pieces), units))
            held += units
            yield from collect(QUEUED * jobs)

        for path in inputs:
            stream, form, problem = _open(path, options, stats)
            if problem is not None:
                yield from collect(0)
                yield [problem]
                continue
            name = input_name(path)
            with stream:
                if form.name == "jsonl":
                    yield from _parallel_lines(stream, name, options, encode, stats, submit,
                                               collect)
                else:
                    records = form.raw_records(stream, keep_text=True,
                                               max_record=options.max_record_size)
                    yield from _parallel_records(records, name, options, encode, stats, submit,
                                                 collect)
        yield from collect(0)


Submit = Callable[[str, "list[RawRecord] | None", "list[Piece] | None", int],
                  Iterator[list[Item]]]
Collect = Callable[[int], Iterator[list[Item]]]


def _parallel_lines(stream: Any, name: str, options: ConvertOptions, encode: Encoder,
                    stats: ConvertStats, submit: Submit, collect: Collect
                    ) -> Iterator[list[Item]]:
    """JSON lines in blocks: the main process only looks at lines that may begin a page."""
    framer = _Framer()
    pieces: list[Piece] = []
    size = 0
    local: Converter | None = None  # converting a long page here, in order
    blocks = jsonl_blocks(stream, BLOCK_BYTES, max_record=options.max_record_size)
    # The last block (its first line, its bytes; None for a line too long to hold): where a
    # read error is reported, counted only then.
    last: tuple[int, bytes | None] = (1, b"")
    while True:
        try:
            first, block = next(blocks)
        except StopIteration:
            break
        except READ_ERRORS as err:
            # Everything read so far goes on as usual, then the reject (see JsonLinesForm).
            yield from _lines_then(pieces, local, name, options, encode, stats, submit)
            number = last[0] + (1 if last[1] is None else last[1].count(b"\n"))
            broken = Converter(options, encode, name, stats)
            broken.feed((number, None, None, unreadable(err, f"line {number}")))
            yield broken.out
            return
        if isinstance(block, Broken):  # a line too long to hold, skipped
            last = (first, None)
            if local is not None:
                _feed_lines(local, [(first, block)])
            else:
                pieces.append((first, block))
            continue
        last = (first, block)
        cuts = framer.line_boundaries(block)
        done = 0
        line = first
        for cut in cuts:
            if local is not None:
                _feed_lines(local, [(line, block[done:cut])])
                line += block.count(b"\n", done, cut)
                done = cut
                local.finish()
                stats.add(local.stats)
                yield local.out
                local = None
            elif size + cut - done >= TASK_BYTES:
                pieces.append((line, block[done:cut]))
                line += block.count(b"\n", done, cut)
                size += cut - done
                done = cut
                yield from submit(name, None, pieces, size)
                pieces, size = [], 0
        rest = block[done:]
        if local is not None:
            _feed_lines(local, [(line, rest)])
            yield local.out[:]
            local.out.clear()
            continue
        pieces.append((line, rest))
        size += len(rest)
        if size > LONG_BYTES:
            yield from collect(0)
            local = Converter(options, encode, name)
            _feed_lines(local, pieces)
            pieces, size = [], 0
    yield from _lines_then(pieces, local, name, options, encode, stats, submit)


def _lines_then(pieces: list[Piece], local: Converter | None, name: str,
                options: ConvertOptions, encode: Encoder, stats: ConvertStats,
                submit: Submit) -> Iterator[list[Item]]:
    """The end of JSON lines: finish the long page converted here, or send the last task."""
    if local is not None:
        local.finish()
        stats.add(local.stats)
        yield local.out
    elif pieces:
        yield from submit(name, None, pieces, sum(len(data) for _, data in pieces
                                                  if type(data) is bytes))


def _parallel_records(records: Iterable[RawRecord], name: str, options: ConvertOptions,
                      encode: Encoder, stats: ConvertStats, submit: Submit, collect: Collect
                      ) -> Iterator[list[Item]]:
    """Framed records (JSON text): decoded here to find pages, sent on as their text."""
    framer = _Framer()
    chunk: list[RawRecord] = []
    size = 0  # characters of the chunk's text
    local: Converter | None = None
    for record in records:
        line, index, raw, value = record
        if framer.boundary(value):
            if local is not None:
                local.finish()
                stats.add(local.stats)
                yield local.out
                local = None
            elif len(chunk) >= TASK_RECORDS or size >= TASK_BYTES:
                yield from submit(name, chunk, None, size)
                chunk, size = [], 0
        if raw is not None and value is not UNDECODED:
            record = (line, index, raw, UNDECODED)  # text pickles faster than objects
        if local is not None:
            local.feed(record)
            if len(local.out) >= BATCH:
                yield local.out[:]
                local.out.clear()
            continue
        chunk.append(record)
        if type(raw) is str or type(raw) is bytes:
            size += len(raw)
        if len(chunk) > LONG_PAGE or size > LONG_BYTES:
            yield from collect(0)
            local = Converter(options, encode, name)
            for earlier in chunk:
                local.feed(earlier)
            chunk, size = [], 0
    if local is not None:
        local.finish()
        stats.add(local.stats)
        yield local.out
    elif chunk:
        yield from submit(name, chunk, None, size)
