"""Reading dumps: forms told from content, gzip, streaming, broken and truncated input."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

from ga_ee_bridge.convert import input as dumps
from ga_ee_bridge.convert import json_stream
from ga_ee_bridge.convert.input import (
    PAGE_END,
    Broken,
    DumpError,
    PageStart,
    decode_raw,
    detect_form,
    open_input,
    read_dump,
)

FIXTURES = REPO / "fixtures" / "dumps"
PUSHES = [{"pageType": "home"}, {"gtm.start": 1700000000000, "event": "gtm.js"},
          {"ecommerce": {"detail": {"products": [{"id": "P1", "name": "Mug"}]}}}]


def write(path: Path, text: str | bytes) -> str:
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return str(path)


def pushes(records):
    return [value for _, _, value in records]


def test_json_list_pretty_printed_with_lines_and_indexes(tmp_path):
    path = write(tmp_path / "dump.json", json.dumps(PUSHES, indent=2))
    records = list(read_dump(path))
    assert pushes(records) == PUSHES
    assert [index for _, index, _ in records] == [0, 1, 2]
    assert [line for line, _, _ in records] == [2, 5, 9]


def test_the_form_comes_from_the_content_not_the_name(tmp_path):
    jsonl = "\n".join(json.dumps(push) for push in PUSHES) + "\n"
    as_json = write(tmp_path / "lines.json", jsonl)
    assert detect_form(open_input(as_json)[1]).name == "jsonl"
    assert pushes(read_dump(as_json)) == PUSHES
    as_jsonl = write(tmp_path / "list.jsonl", json.dumps(PUSHES))
    assert detect_form(open_input(as_jsonl)[1]).name == "json"
    assert pushes(read_dump(as_jsonl)) == PUSHES


def test_gzip_is_told_by_its_magic_bytes(tmp_path):
    path = write(tmp_path / "no-extension", gzip.compress(json.dumps(PUSHES).encode()))
    assert pushes(read_dump(path)) == PUSHES
    lines = "".join(json.dumps(push) + "\n" for push in PUSHES).encode()
    assert pushes(read_dump(write(tmp_path / "x.jsonl.gz", gzip.compress(lines)))) == PUSHES


def test_standard_input_is_read_and_detected_the_same_way():
    code = "from ga_ee_bridge.convert.input import read_dump; print(len(list(read_dump('-'))))"
    done = subprocess.run(
        [sys.executable, "-c", code], input=gzip.compress(json.dumps(PUSHES).encode()),
        capture_output=True, check=True, cwd=REPO,
    )
    assert done.stdout.strip() == b"3"


def test_a_broken_jsonl_line_is_a_broken_record_and_reading_goes_on(tmp_path):
    text = '{"a": 1}\n{"b": \n\n{"c": 3}\nnot json at all\n'
    records = list(read_dump(write(tmp_path / "x.jsonl", text)))
    assert records[0] == (1, None, {"a": 1})
    line, _, broken = records[1]
    assert line == 2 and isinstance(broken, Broken)
    assert broken.text == '{"b": '
    assert "line 2" in broken.message
    assert records[2] == (4, None, {"c": 3})
    assert records[3][0] == 5 and records[3][2].text == "not json at all"


def test_a_truncated_json_list_keeps_what_came_before_and_says_where(tmp_path):
    text = json.dumps(PUSHES)
    cut = text.index('"detail"')
    records = list(read_dump(write(tmp_path / "x.json", text[:cut])))
    assert pushes(records[:2]) == PUSHES[:2]
    _line, index, broken = records[2]
    assert isinstance(broken, Broken) and index == 2
    assert "ends inside push [2]" in broken.message
    start = text.index('{"ecommerce')
    assert f"line 1, column {start + 1}" in broken.message
    assert broken.text.startswith('{"ecommerce"')


def test_garbage_inside_a_list_stops_the_file_with_its_place(tmp_path):
    text = '[{"a": 1},\n {"b": 2} {"c": 3}]'
    records = list(read_dump(write(tmp_path / "x.json", text)))
    assert pushes(records[:2]) == [{"a": 1}, {"b": 2}]
    assert isinstance(records[2][2], Broken)
    assert "expected ',' or ']' after push [1] at line 2" in records[2][2].message


def test_buffer_refills_split_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(json_stream, "CHUNK", 7)
    many = [{"i": i, "text": "x" * (i % 13), "n": -1.5e-3 * i} for i in range(300)]
    path = write(tmp_path / "x.json", "[\n" + ",\n".join(json.dumps(p) for p in many) + "]")
    records = list(read_dump(path))
    assert pushes(records) == many
    assert [line for line, _, _ in records] == list(range(2, 302))
    stream, head = open_input(path)
    texts = [raw for _, _, raw, _ in detect_form(head).raw_records(stream, keep_text=True)]
    assert [json.loads(text) for text in texts] == many


def test_a_page_object_becomes_marked_pushes_with_its_metadata(tmp_path):
    page = {"url": "https://shop.example.com/", "dataLayer": PUSHES, "timestamp": 1700000000}
    records = list(read_dump(write(tmp_path / "page.json", json.dumps(page, indent=1))))
    start = records[0][2]
    assert start == PageStart({"url": "https://shop.example.com/", "timestamp": 1700000000},
                              "dataLayer")  # metadata after the dataLayer still applies
    assert pushes(records[1:4]) == PUSHES
    assert records[4][2] is PAGE_END


def test_page_objects_in_jsonl_and_in_lists(tmp_path):
    page = {"customer_ids": {"registered": "x"}, "dataLayer": PUSHES[:1]}
    line = list(read_dump(write(tmp_path / "x.jsonl", json.dumps(page) + "\n{}\n")))
    assert line[0][2] == PageStart({"customer_ids": {"registered": "x"}}, "dataLayer")
    assert line[1:] == [(1, 0, PUSHES[0]), (1, None, PAGE_END), (2, None, {})]
    in_list = list(read_dump(write(tmp_path / "y.json", json.dumps([{"a": 1}, page]))))
    assert in_list[1][2].prefix == "[1].dataLayer"


def test_a_long_page_object_streams_and_reports_late_metadata(tmp_path, monkeypatch):
    monkeypatch.setattr(json_stream, "HOLD_PUSHES", 2)
    page = {"dataLayer": [{"i": i} for i in range(5)], "url": "late"}
    records = list(read_dump(write(tmp_path / "page.json", json.dumps(page))))
    assert records[0][2] == PageStart({}, "dataLayer")
    assert pushes(records[1:6]) == [{"i": i} for i in range(5)]
    assert isinstance(records[6][2], Broken) and "'url' comes after" in records[6][2].message
    assert records[6][2].reason == "bad page metadata"


def test_lists_one_after_another_are_separate_pages(tmp_path):
    records = list(read_dump(write(tmp_path / "x.json", '[{"a":1}]\n[{"b":2}]')))
    assert pushes(records) == [{"a": 1}, PAGE_END, {"b": 2}]


def test_empty_input_has_no_records(tmp_path):
    assert list(read_dump(write(tmp_path / "empty.json", "  \n"))) == []


def test_not_a_dump_and_missing_files(tmp_path):
    with pytest.raises(DumpError, match="not a dump: it looks like plain text"):
        list(read_dump(write(tmp_path / "x.txt", "shopping list: milk, eggs")))
    with pytest.raises(DumpError, match="cannot read"):
        list(read_dump(str(tmp_path / "missing.json")))


def test_decode_raw_keeps_broken_lines():
    (record,) = decode_raw((7, None, b'{"x": tru\n', dumps.UNDECODED))
    assert record[0] == 7 and isinstance(record[2], Broken)
    assert record[2].text == '{"x": tru'


def test_the_shipped_fixtures_read_without_broken_records():
    for path in sorted(FIXTURES.glob("*.*")):
        records = list(read_dump(str(path)))
        assert records, path
        assert not any(isinstance(value, Broken) for _, _, value in records), path


def test_jsonl_blocks_hold_whole_lines_with_their_numbers(tmp_path):
    text = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * (i * 7 % 50)) for i in range(40))
    path = write(tmp_path / "x.jsonl", text + b'{"last": true}')  # no final newline
    stream, _ = open_input(path)
    blocks = list(dumps.jsonl_blocks(stream, 32))  # most lines are longer than a block
    assert b"".join(block for _, block in blocks) == text + b'{"last": true}'
    for first, block in blocks:
        assert block.endswith(b"\n") or block == b'{"last": true}'
        assert json.loads(block.split(b"\n")[0]) == ({"last": True} if first == 41 else
                                                     json.loads(text.split(b"\n")[first - 1]))


@pytest.mark.parametrize(("head", "what"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
    (b"PK\x03\x04\x14\x00", "a ZIP archive"),
    (b"SQLite format 3\x00\x10\x00", "an SQLite database"),
    (b"order,sku,price\n1,A,9.99\n2,B,1.50\n", "CSV"),
    (b"a;b\n1;2\n", "CSV (semicolon-separated)"),
    (b"a\tb\n1\t2\n", "TSV"),
    (b"<!DOCTYPE html><html>", "an HTML page"),
    (b"\x00\x01\x02binary", "binary data"),
    (b"shopping list: milk, eggs\n", "plain text"),
    (b"42\n", "JSON, but not a dump"),
])
def test_not_a_dump_says_what_it_looks_like_without_its_bytes(head: bytes, what: str) -> None:
    from ga_ee_bridge.convert.input import detect_form

    with pytest.raises(DumpError) as info:
        detect_form(head, path="x.json")
    message = str(info.value)
    assert f"x.json: not a dump: it looks like {what}" in message
    if not what.startswith(("CSV", "TSV", "plain", "an HTML", "JSON")):
        assert "starts with" not in message  # binary is never echoed
    assert "\ufffd" not in message and "\\x" not in message


@pytest.mark.parametrize("jobs", [1, 2])
def test_blank_and_whitespace_lines_are_skipped_and_counted_by_both_readers(tmp_path, jobs):
    # One process reads lines one by one, --jobs splits blocks: both skip every kind of blank
    # line (ASCII whitespace only), read a line that starts with spaces, and number lines alike.
    from ga_ee_bridge.convert.api import convert_dump
    from ga_ee_bridge.convert.results import ConvertStats, Reject

    detail = {"event": "x", "ecommerce": {"detail": {"products": [{"id": "P1", "name": "Mug"}]}}}
    lines = [json.dumps(detail), "", " ", "\t\r", "\x0b\x0c ", "  " + json.dumps(detail),
             "{broken", "", json.dumps(detail)]
    path = write(tmp_path / "blank.jsonl", "\n".join(lines) + "\n")
    stats = ConvertStats()
    items = list(convert_dump(path, stats=stats, jobs=jobs, ids=["registered=user.email"],
                              no_timestamp_ok=True))
    rejects = [item for item in items if isinstance(item, Reject)]
    assert [reject.line for reject in rejects] == [7]
    assert stats.pushes == 3 and stats.events["product_detail"] == 3
