"""Fault containment: one bad line, push, row or hit is a reject with its reason; the run goes on.

Every reproducer of issue 9 point 4, with one process and with two (real worker processes).
"""

import gzip
import json
import os
import random
import subprocess
import sys
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import REPO

from ga_ee_bridge.convert.api import convert_dump
from ga_ee_bridge.convert.reasons import MAX_DEPTH, RejectReason, fault_of
from ga_ee_bridge.convert.results import ConvertStats, Reject

T0 = 1_709_294_400
JOBS = pytest.mark.parametrize("jobs", [1, 2])


def detail(product_id, **push):
    return {"event": "view", "timestamp": T0, **push,
            "ecommerce": {"detail": {"products": [{"id": product_id, "name": "Mug"}]}}}


def good_line(product_id):
    return json.dumps(detail(product_id))


def convert(path, jobs, **options):
    stats = ConvertStats()
    items = list(convert_dump(str(path), jobs=jobs, stats=stats, **options))
    ids = [item["data"]["properties"].get("product_id") for item in items
           if isinstance(item, dict)]
    rejects = [item for item in items if isinstance(item, Reject)]
    return ids, rejects, stats


def only_reject(rejects, reason, line):
    assert len(rejects) == 1, [r.to_json() for r in rejects]
    reject = rejects[0]
    assert reject.reason == reason
    assert reject.line == line
    message = " ".join(message for _, message, _ in reject.errors)
    assert f"line {line}" in message, message
    json.dumps(reject.to_json())  # what the rejects file writes
    return reject


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@JOBS
@pytest.mark.parametrize("event", [[], {"a": 1}])
def test_a_push_whose_event_is_no_text_is_a_reject(tmp_path, jobs, event):
    bad = json.dumps({"event": event, "ecommerce": {"foo": 1}})
    for name, text in (("d.jsonl", "\n".join([good_line("P1"), bad, good_line("P2")]) + "\n"),
                       ("d.json", f"[{good_line('P1')},{bad},{good_line('P2')}]")):
        path = tmp_path / name
        path.write_text(text)
        ids, rejects, _ = convert(path, jobs)
        assert ids == ["P1", "P2"]
        assert len(rejects) == 1 and rejects[0].reason == RejectReason.INVALID_ECOMMERCE
        assert rejects[0].errors[0][0].endswith("event")
        assert rejects[0].errors[0][2] == event


@JOBS
def test_a_ua_push_with_an_odd_event_still_converts(tmp_path, jobs):
    path = write_lines(tmp_path / "d.jsonl", [json.dumps(detail("P1", event=["x"]))])
    ids, rejects, _ = convert(path, jobs)
    assert ids == ["P1"] and not rejects


@JOBS
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1200])
def test_deep_json_is_a_reject_and_the_next_push_converts(tmp_path, jobs, depth):
    deep = '{"ecommerce": ' + "[" * depth + "]" * depth + "}"
    path = write_lines(tmp_path / "d.jsonl", [good_line("P1"), deep, good_line("P2")])
    ids, rejects, _ = convert(path, jobs)
    assert ids == ["P1", "P2"]
    only_reject(rejects, RejectReason.TOO_DEEP, 2)
    listed = tmp_path / "d.json"
    listed.write_text(f"[{good_line('P1')},\n{deep},\n{good_line('P2')}]")
    ids, rejects, _ = convert(listed, jobs)
    assert ids == ["P1", "P2"]
    only_reject(rejects, RejectReason.TOO_DEEP, 2)


@JOBS
def test_nesting_up_to_the_limit_is_read(tmp_path, jobs):
    inner = "[" * (MAX_DEPTH - 3) + "]" * (MAX_DEPTH - 3)
    push = detail("P1")
    text = json.dumps(push)[:-1] + f', "deep": {inner}}}'
    path = write_lines(tmp_path / "d.jsonl", [text])
    ids, rejects, _ = convert(path, jobs)
    assert ids == ["P1"] and not rejects


@JOBS
def test_a_number_of_5000_digits_in_a_json_list(tmp_path, jobs):
    big = '{"ecommerce": {"detail": {"products": [{"id": "X", "price": ' + "9" * 5000 + "}]}}}"
    path = tmp_path / "d.json"
    path.write_text(f"[{good_line('P1')},\n{big},\n{good_line('P2')}]")
    ids, rejects, _ = convert(path, jobs)
    assert ids == ["P1", "P2"]
    reject = only_reject(rejects, RejectReason.NUMBER_TOO_LARGE, 2)
    assert reject.index == 1
    jsonl = write_lines(tmp_path / "d.jsonl", [good_line("P1"), big, good_line("P2")])
    ids, rejects, _ = convert(jsonl, jobs)
    assert ids == ["P1", "P2"]
    only_reject(rejects, RejectReason.NUMBER_TOO_LARGE, 2)


def bq_row(**hit):
    return {"visitStartTime": T0, "fullVisitorId": "V1", "visitId": 1, "hits": [{
        "time": 0, "hitNumber": 1, "eCommerceAction": {"action_type": "2"},
        "product": [{"productSKU": "P1", "v2ProductName": "Mug", "productPrice": 1_000_000}],
        **hit,
    }]}


@JOBS
@pytest.mark.parametrize("bad", [
    {"eCommerceAction": {"action_type": []}},
    {"product": [{"productSKU": "P9", "productPrice": 10 ** 400}]},
    {"time": 10 ** 400},
], ids=["action-type-list", "price-400-digits", "time-400-digits"])
def test_bad_bigquery_rows_are_rejects(tmp_path, jobs, bad):
    path = write_lines(tmp_path / "bq.jsonl",
                       [json.dumps(bq_row()), json.dumps(bq_row(**bad)), json.dumps(bq_row())])
    ids, rejects, stats = convert(path, jobs)
    if "eCommerceAction" not in bad:  # lenient reading: a number no backend stores is left out,
        # with a warning, and the hit converts (without its price, or at the session's start)
        assert ids == ["P1", "P9" if "product" in bad else "P1", "P1"] and not rejects
        assert sum(stats.warnings.values()) == 1
        return
    assert ids == ["P1", "P1"]
    assert len(rejects) == 1 and rejects[0].line == 2
    assert rejects[0].reason in (RejectReason.INVALID_ECOMMERCE, RejectReason.NUMBER_TOO_LARGE,
                                 RejectReason.CONVERSION_FAILED)
    assert stats.pushes == 3


@JOBS
def test_a_measurement_protocol_hit_with_a_5000_digit_index(tmp_path, jobs):
    hit = f"{T0}\tv=1&tid=UA-1-1&cid=1&t=pageview&pa=detail&pr1id=P1&pr1nm=Mug"
    bad = f"{T0}\tv=1&tid=UA-1-1&cid=1&t=pageview&pa=detail&pr{'9' * 5000}id=P9"
    path = write_lines(tmp_path / "mp.log", [hit, bad, hit.replace("P1", "P2")])
    ids, rejects, _ = convert(path, jobs)
    assert ids == ["P1", "P2"]
    # The reader may also keep the hit, leaving the parameter out (with a warning).
    assert len(rejects) <= 1
    if rejects:
        assert rejects[0].line == 2


@JOBS
def test_a_line_that_is_not_utf8_is_a_reject(tmp_path, jobs):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\n".join([good_line("P1").encode(), b'{"a": "\xff"}',
                                 good_line("P2").encode()]) + b"\n")
    ids, rejects, _ = convert(path, jobs)
    assert ids == ["P1", "P2"]
    only_reject(rejects, RejectReason.NOT_UTF8, 2)


def varied_lines(count, seed=7):
    rng = random.Random(seed)
    return [json.dumps(detail(f"P{i}-{rng.random()}",
                              note="".join(rng.choice("abcdefghij") for _ in range(60))))
            for i in range(count)]


def salvageable(data):
    """Independently: the whole lines zlib gives before it fails (fed byte by byte)."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = []
    for at in range(len(data)):
        try:
            out.append(inflate.decompress(data[at:at + 1]))
        except zlib.error:
            break
    text = b"".join(out)
    return text[:text.rfind(b"\n") + 1].decode().splitlines()


@JOBS
def test_damaged_deflate_data_keeps_every_line_before_it(tmp_path, jobs):
    lines = varied_lines(600)
    compressed = bytearray(gzip.compress(("\n".join(lines) + "\n").encode()))
    middle = len(compressed) // 2
    for at in range(middle, middle + 40):  # a run of garbage: zlib cannot decode it
        compressed[at] = 0xFF
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(bytes(compressed))
    before = salvageable(bytes(compressed))
    assert 50 < len(before) < 600
    with pytest.raises(zlib.error):
        gzip.decompress(bytes(compressed))
    ids, rejects, _ = convert(path, jobs)
    expected = [json.loads(line)["ecommerce"]["detail"]["products"][0]["id"]
                for line in before]
    assert ids[:len(expected)] == expected
    assert rejects[-1].reason == RejectReason.UNREADABLE_INPUT
    assert "damaged gzip data" in rejects[-1].errors[0][1]
    assert all(r.reason != RejectReason.CONVERSION_FAILED for r in rejects)


@JOBS
@pytest.mark.parametrize("form", ["jsonl", "json"])
def test_a_truncated_gzip_converts_every_whole_push_before_the_break(tmp_path, jobs, form):
    lines = varied_lines(37)
    text = "\n".join(lines) + "\n" if form == "jsonl" else "[" + ",\n".join(lines) + "]"
    compressed = gzip.compress(text.encode())
    cut = compressed[: len(compressed) * 2 // 3]
    path = tmp_path / f"d.{form}.gz"
    path.write_bytes(cut)
    whole = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut).decode()
    complete = whole.count("\n")  # pushes whose line ended before the break
    ids, rejects, _ = convert(path, jobs)
    assert len(ids) >= complete > 0
    assert ids == [json.loads(line)["ecommerce"]["detail"]["products"][0]["id"]
                   for line in lines[:len(ids)]]
    assert [r.reason for r in rejects] == [RejectReason.UNREADABLE_INPUT]
    assert "ends early" in rejects[0].errors[0][1]


@JOBS
@pytest.mark.parametrize("form", ["first", "middle"])
def test_a_huge_line_is_read_to_its_end_in_bounded_memory(tmp_path, jobs, form):
    limit = 1 << 16
    size = 32 << 20  # 512 times the limit (and 32 times the reading chunk)
    huge = '{"ecommerce": {"detail": {"products": [{"id": "X", "name": "' + "A" * size + '"}]}}}'
    lines = [huge, good_line("P1"), good_line("P2")] if form == "first" else [
        good_line("P1"), huge, good_line("P2")]
    path = write_lines(tmp_path / "d.jsonl", lines)
    tracemalloc.start()
    try:
        ids, rejects, _ = convert(path, jobs, max_record_size=limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sorted(ids) == ["P1", "P2"]
    reject = rejects[0]
    assert len(rejects) == 1 and reject.reason == RejectReason.TOO_LARGE
    assert reject.line == (1 if form == "first" else 2)
    assert peak < size // 3, peak  # never the whole line


def test_the_cli_never_shows_a_traceback(tmp_path):
    deep = '{"ecommerce": ' + "[" * 1200 + "]" * 1200 + "}"
    path = tmp_path / "d.json"
    path.write_text(f"[{good_line('P1')},{deep},{json.dumps({'event': [], 'ecommerce': {}})},"
                    f"{good_line('P2')}]")
    out = tmp_path / "out.jsonl"
    for jobs in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-m", "ga_ee_bridge", "convert", str(path), "-o", str(out),
             "--jobs", jobs], capture_output=True, text=True, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60,
        )
        assert done.returncode == 3, done.stderr
        assert "Traceback" not in done.stderr
        assert len(out.read_text().splitlines()) == 2
        assert "too deeply nested 1" in done.stderr


def test_fault_of_names_each_cause():
    assert fault_of(RecursionError())[0] is RejectReason.TOO_DEEP
    assert fault_of(OverflowError("int too large"))[0] is RejectReason.NUMBER_TOO_LARGE
    with pytest.raises(ValueError) as info:
        int("9" * 5000)
    assert fault_of(info.value)[0] is RejectReason.NUMBER_TOO_LARGE
    assert fault_of(b"\xff".decode("utf-8", "strict") if False else UnicodeDecodeError(
        "utf-8", b"\xff", 0, 1, "invalid start byte"))[0] is RejectReason.NOT_UTF8
    reason, cause = fault_of(KeyError("x"))
    assert reason is RejectReason.CONVERSION_FAILED and "KeyError" in cause


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["event", "ecommerce", "detail", "purchase", "products",
                                       "items", "id", "price", "0", "1", "2", "transactionId",
                                       "transactionProducts", "actionField", "send_to"]),
                      inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60)
@given(st.lists(json_values, min_size=1, max_size=6))
def test_any_json_pushes_are_converted_or_rejected_never_raised(tmp_path_factory, pushes):
    path = tmp_path_factory.mktemp("fuzz") / "d.jsonl"
    lines = [good_line("FIRST"), *(json.dumps(push) for push in pushes), good_line("LAST")]
    path.write_text("\n".join(lines) + "\n")
    ids, rejects, stats = convert(path, 1, no_timestamp_ok=True)
    assert ids[0] == "FIRST" and ids[-1] == "LAST"
    assert all(r.reason != RejectReason.CONVERSION_FAILED for r in rejects
               if r.line == len(lines)), rejects
    assert stats.pushes == len(lines)


@settings(max_examples=40)
@given(st.binary(max_size=200))
def test_any_bytes_are_read_without_raising(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "d.jsonl"
    path.write_bytes(good_line("FIRST").encode() + b"\n" + data + b"\n"
                     + good_line("LAST").encode() + b"\n")
    ids, rejects, _ = convert(path, 1, no_timestamp_ok=True)
    assert ids[0] == "FIRST" and ids[-1] == "LAST"
    assert all(r.reason != RejectReason.CONVERSION_FAILED for r in rejects), rejects
