"""The optional fast decoder (extra ``fast``: orjson) gives exactly what ``json`` gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import REPO

from ga_ee_bridge.convert.records import UNDECODED, decode_line, decode_record

orjson = pytest.importorskip("orjson")

DUMPS = REPO / "fixtures" / "dumps"

_SCALARS = (st.none() | st.booleans()
            | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
            | st.floats(allow_nan=True, allow_infinity=True)
            | st.text())
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=20)


def _same(raw: bytes | str) -> None:
    fast, plain = decode_line(raw, loads=orjson.loads), decode_line(raw, loads=None)
    assert (fast is UNDECODED) == (plain is UNDECODED)
    assert repr(fast) == repr(plain)  # repr: 1 vs 1.0, -0.0 vs 0.0, NaN
    fast, plain = decode_record(7, raw, loads=orjson.loads), decode_record(7, raw, loads=None)
    assert repr(fast) == repr(plain)


@settings(max_examples=150, deadline=None)
@given(_VALUES, st.booleans(), st.sampled_from(["", "\n", "\r\n", " \n"]))
def test_the_fast_decoder_gives_the_values_json_gives(value, ascii_only, end) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only) + end
    _same(text)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a str: no UTF-8 line holds it
        return
    _same(raw)


@pytest.mark.parametrize("raw", [
    b"NaN", b"[Infinity, -Infinity]", b"1e400", b"-1e400", b"1e-400", b'"\\ud800"',
    b"123456789012345678901234567890", b"-9223372036854775809", b"18446744073709551616",
    b'{"id": 12345678901234567890}', b" {}", b"\t[1]", b"{} \x1c", b"\xef\xbb\xbf{}",
    b"[" * 1010 + b"]" * 1010, b"[" * 300 + b"]" * 300, b"-0", b"-0.0", b"5e-324",
    b"1.7976931348623157e308", b'{"a": 1, "a": 2}', b"[1] [2]", b"{", b"", b"\xff{}",
    '{"a": "\udc80"}', b'"\xed\xa0\x80"', "\ufeff{}", b"1" * 5000,
    # Objects and lists in turn, 201 levels and 200 (the limit): neither kind alone is too many.
    b'{"a": [' * 100 + b'{"a": 1}' + b"]}" * 100, b'{"a": [' * 100 + b"1" + b"]}" * 100,
])
def test_the_edges_where_orjson_and_json_differ_give_what_json_gives(raw) -> None:
    _same(raw)


_CONVERT_ALL = """
import json, sys
from pathlib import Path
from ga_ee_bridge.cli import main
from ga_ee_bridge.convert.records import FAST_LOADS
out = Path(sys.argv[2])
codes = {}
for dump in sorted(Path(sys.argv[1]).iterdir()):
    if dump.is_file():
        codes[dump.name] = main(["convert", str(dump), "-o", str(out / (dump.name + ".jsonl")),
                                 "-q", "--id", "registered=user.email"])
print(json.dumps({"fast": FAST_LOADS is not None, "codes": codes}))
"""


def _convert_all(out: Path, env: dict[str, str]) -> dict[str, object]:
    out.mkdir()
    done = subprocess.run([sys.executable, "-c", _CONVERT_ALL, str(DUMPS), str(out)],
                          env=env, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_every_shipped_dump_converts_to_the_same_bytes_with_and_without_orjson(
        tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("GA_EE_BRIDGE_JSON", None)
    fast = _convert_all(tmp_path / "fast", env)
    plain = _convert_all(tmp_path / "plain", {**env, "GA_EE_BRIDGE_JSON": "stdlib"})
    assert fast["fast"] is True and plain["fast"] is False
    assert fast["codes"] == plain["codes"]
    names = sorted(path.name for path in (tmp_path / "fast").iterdir())
    assert names == sorted(path.name for path in (tmp_path / "plain").iterdir())
    assert any(name.endswith(".rejects.jsonl") for name in names)
    assert len([name for name in names if not name.endswith(".rejects.jsonl")]) >= 10
    for name in names:
        got = (tmp_path / "fast" / name).read_bytes()
        assert got == (tmp_path / "plain" / name).read_bytes(), name
    assert sum(len((tmp_path / "fast" / name).read_bytes()) for name in names) > 10_000
