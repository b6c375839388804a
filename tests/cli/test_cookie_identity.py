"""Anonymous customers come from the data alone: a file, its renamed copy and standard input agree."""

import json
import os
import shutil
import subprocess
import sys

from support import REPO

T0 = 1_709_294_400


def convert(*args, stdin=None):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "ga_ee_bridge", "convert", "--quiet", *map(str, args)],
                          input=stdin, capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def anonymous_dump() -> str:
    pushes = []
    for page in range(3):
        pushes.append({"event": "gtm.js", "gtm.start": (T0 + page * 60) * 1000})
        pushes.append({"ecommerce": {"detail": {"products": [{"id": f"P{page}", "price": "9.90"}]}}})
    return "".join(json.dumps(push) + "\n" for push in pushes)


def test_a_file_its_renamed_copy_and_stdin_give_the_same_customers(tmp_path):
    first = tmp_path / "monday.jsonl"
    first.write_text(anonymous_dump())
    elsewhere = tmp_path / "archive"
    elsewhere.mkdir()
    renamed = elsewhere / "renamed-copy.jsonl"
    shutil.copy(first, renamed)
    runs = [convert(first), convert(renamed), convert("-", stdin=first.read_bytes()),
            convert(first, "--jobs", "2")]
    cookies = [[command["data"]["customer_ids"] for command in run] for run in runs]
    assert all(run == runs[0] for run in runs)
    assert len(cookies[0]) == 3 and all(set(ids) == {"cookie"} for ids in cookies[0])
    assert len({ids["cookie"] for ids in cookies[0]}) == 3  # one customer per page view


def test_the_cookie_still_depends_on_the_page_itself(tmp_path):
    one = tmp_path / "a.jsonl"
    one.write_text(anonymous_dump())
    other = tmp_path / "b.jsonl"
    other.write_text(anonymous_dump().replace(str(T0 * 1000), str((T0 + 1) * 1000)))
    first, second = convert(one), convert(other)
    assert first[0]["data"]["customer_ids"] != second[0]["data"]["customer_ids"]
    assert first[1:] == second[1:]
