"""``ga-ee-bridge convert`` as a user runs it: real files, real processes, every exit status."""

import csv
import gzip
import json
import os
import pty
import subprocess
import sys

import pytest
from support import REPO

ROOT = REPO
FIXTURES = ROOT / "fixtures" / "dumps"
T0 = 1_709_294_400


def cli(*args, stdin=None, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ga_ee_bridge", *map(str, args)], input=stdin,
        capture_output=True, env=env, cwd=cwd or ROOT, timeout=120,
    )


def lines(data: bytes):
    return [json.loads(line) for line in data.decode().splitlines()]


def test_the_whole_page_fixture_converts_to_the_expected_commands(tmp_path):
    out = tmp_path / "page.jsonl"
    done = cli("convert", FIXTURES / "whole-page.json", "--id", "registered=user.email",
               "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (FIXTURES / "expected" / "whole-page.commands.jsonl").read_bytes()
    assert (tmp_path / "page.jsonl.rejects.jsonl").read_text() == ""
    summary = done.stderr.decode()
    assert "read 19 pushes from 1 input(s), 1 page(s): 7 ecommerce, 12 without ecommerce" in summary
    assert "product_purchase 2" in summary and "rejected: none" in summary
    assert "pushes/s" in summary


def test_standard_output_and_gzip_from_standard_input():
    data = (FIXTURES / "crawl.jsonl.gz").read_bytes()
    from_file = cli("convert", FIXTURES / "crawl.jsonl.gz", "-q")
    assert from_file.returncode == 0 and from_file.stderr == b""
    # Cookies come from the data, not the input's name: standard input gives the same customers.
    piped = cli("convert", "-", "-q", stdin=data)
    assert piped.returncode == 0
    assert piped.stdout == from_file.stdout
    assert [c["data"]["event_type"] for c in lines(piped.stdout)] == [
        "promo_impression", "product_detail"] * 2


def test_a_broken_jsonl_line_is_rejected_and_the_rest_converted(tmp_path):
    good = (FIXTURES / "thank-you-reloaded.jsonl").read_text().splitlines()
    good.insert(3, '{"ecommerce": {"purchase": ')
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(good) + "\n")
    done = cli("convert", path, "-o", tmp_path / "out.jsonl")
    assert done.returncode == 3
    (reject,) = lines((tmp_path / "out.jsonl.rejects.jsonl").read_bytes())
    assert reject["line"] == 4 and reject["reason"] == "broken JSON"
    assert reject["push"] == '{"ecommerce": {"purchase": '
    assert len(lines((tmp_path / "out.jsonl").read_bytes())) == 2
    assert "rejected: 1 (broken JSON 1)" in done.stderr.decode()


def test_a_truncated_json_file_keeps_what_came_before(tmp_path):
    text = (FIXTURES / "whole-page.json").read_text()
    cut = text.index('"checkout_option"')
    path = tmp_path / "cut.json"
    path.write_text(text[:cut])
    done = cli("convert", path, "--id", "registered=user.email")
    assert done.returncode == 3
    commands = lines(done.stdout)
    expected = lines((FIXTURES / "expected" / "whole-page.commands.jsonl").read_bytes())
    assert commands == expected[:7]  # up to the checkout summary, as before the cut
    (reject,) = [json.loads(line) for line in done.stderr.decode().splitlines()
                 if line.startswith("{")]
    assert reject["index"] == 15 and "ends inside push [15]" in reject["errors"][0]["message"]


def test_rejects_carry_paths_and_values(tmp_path):
    rejects = tmp_path / "bad.jsonl"
    done = cli("convert", FIXTURES / "shop-dirt.json", "-o", tmp_path / "out.jsonl",
               "--rejects", rejects)
    assert done.returncode == 3
    (reject,) = lines(rejects.read_bytes())
    assert reject["input"].endswith("shop-dirt.json") and reject["index"] == 8
    assert reject["reason"] == "invalid ecommerce"
    # The missing order id fails the purchase; its unreadable revenue and price would only have
    # been left out with warnings (issue 9), so the id is what the reject names.
    assert {(e["path"], e["value"]) for e in reject["errors"]} == {
        ("[8].ecommerce.purchase.actionField.id", None),
    }
    assert reject["push"]["event"] == "eec.purchase"
    commands = lines((tmp_path / "out.jsonl").read_bytes())
    prices = [c["data"]["properties"].get("price") for c in commands]
    assert prices == [275.0, 2698.0, 275.0, 275.0, 275.0, 275.0, None]


def test_duplicates_are_dropped_unless_kept():
    dropped = cli("convert", FIXTURES / "thank-you-reloaded.jsonl")
    assert dropped.returncode == 0
    assert len(lines(dropped.stdout)) == 2
    assert "duplicate purchases dropped: 1" in dropped.stderr.decode()
    kept = cli("convert", FIXTURES / "thank-you-reloaded.jsonl", "--keep-duplicates", "-q")
    assert [c["data"]["timestamp"] for c in lines(kept.stdout)] == [
        1709301600.0, 1709301600.001, 1709301631.5, 1709301631.501]


def test_csv_has_one_file_per_event_type(tmp_path):
    out = tmp_path / "csv"
    done = cli("convert", FIXTURES / "whole-page.json", FIXTURES / "checkout-page.json",
               "--format", "csv", "-o", out, "--id", "registered=user.email")
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["checkout.csv", "checkout_option.csv", "product_add_to_cart.csv",
                     "product_checkout.csv", "product_click.csv", "product_detail.csv",
                     "product_impression.csv", "product_purchase.csv", "promo_click.csv",
                     "rejects.jsonl", "transaction.csv"]
    with open(out / "product_checkout.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    assert header[:2] == ["registered", "timestamp"]
    assert header[2:] == ["tracked_via", "step", "option", "product_id", "name", "brand",
                          "category", "variant", "price", "quantity", "currency_code",
                          "location", "os", "browser", "device"]  # union, first seen first
    first = dict(zip(header, rows[1], strict=True))
    assert first["registered"] == "jane.doe@example.com"
    assert first["timestamp"] == "1709294400.005" and first["price"] == "33.75"
    assert first["location"] == ""  # not on the first page
    second = dict(zip(header, rows[2], strict=True))
    assert second["location"] == "https://shop.example.com/checkout/shipping"
    assert len(rows) == 3


def test_the_output_is_byte_identical_whatever_the_jobs(tmp_path):
    pushes = []
    for page in range(1500):
        pushes += [{"user": {"email": f"U{page % 11}@Example.com"}},
                   {"gtm.start": (T0 + page) * 1000, "event": "gtm.js"},
                   {"ecommerce": {"detail": {"products": [{"id": f"P{page}", "price": "9"}]}}},
                   {"ecommerce": {"purchase": {"actionField": {"id": f"T{page % 300}"},
                                               "products": [{"id": "P", "quantity": 1}]}}}]
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(p) + "\n" for p in pushes).encode()))
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.jsonl"
        done = cli("convert", path, "-o", out, "--jobs", jobs, "--id", "registered=user.email")
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 1500 + 300 * 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id", "registered"], "bad --id"),
        (["--format", "csv"], "--output DIR"),
        (["--timestamp", "a..b"], "bad path"),
        (["--jobs", "-1"], "--jobs"),
        (["--kind", "purchases"], "unknown kind 'purchases'"),
        (["-o", "x.jsonl", "--rejects", "x.jsonl"], "must not be the --output"),
    ],
)
def test_usage_errors_exit_2(args, message):
    done = cli("convert", FIXTURES / "whole-page.json", *args)
    assert done.returncode == 2
    assert message in done.stderr.decode()


def test_failures_exit_1(tmp_path):
    missing = cli("convert", tmp_path / "nope.json")
    assert missing.returncode == 1 and "no such file; check the path" in missing.stderr.decode()
    blocker = tmp_path / "file"
    blocker.write_text("")
    unwritable = cli("convert", FIXTURES / "whole-page.json", "-o", blocker / "out.jsonl")
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr.decode()


def test_not_a_dump_is_rejected_and_the_others_converted(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("shopping list: milk, eggs\n")
    done = cli("convert", text, FIXTURES / "thank-you-reloaded.jsonl", "-q")
    assert done.returncode == 3
    assert len(lines(done.stdout)) == 2
    (reject,) = lines(done.stderr)
    assert reject["reason"] == "not a dump" and "looks like plain text" in reject["errors"][0][
        "message"]


def test_quiet_and_progress_bar_on_a_terminal(tmp_path):
    quiet = cli("convert", FIXTURES / "whole-page.json", "-q", "-o", tmp_path / "o.jsonl")
    assert quiet.returncode == 0 and quiet.stderr == b""
    # A real terminal on standard error shows the bar (tqdm), then the summary.
    primary, secondary = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "ga_ee_bridge", "convert", str(FIXTURES / "whole-page.json"),
         "-o", str(tmp_path / "p.jsonl")], stderr=secondary, env=env, timeout=60, check=False,
    )
    os.close(secondary)
    shown = b""
    try:
        while chunk := os.read(primary, 4096):
            shown += chunk
    except OSError:
        pass
    os.close(primary)
    assert done.returncode == 0
    assert b"pushes" in shown and b"ga-ee-bridge: read 19 pushes" in shown
    assert b"\r" in shown  # the bar redraws in place


def test_a_truncated_gzip_keeps_what_came_before_whatever_the_jobs(tmp_path):
    lines_ = [json.dumps({"gtm.start": (T0 + i) * 1000, "event": "gtm.js"}) + "\n" +
              json.dumps({"ecommerce": {"detail": {"products": [{"id": f"P{i}"}]}}}) + "\n"
              for i in range(20000)]
    whole = gzip.compress("".join(lines_).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    results = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.jsonl"
        done = cli("convert", path, "--jobs", jobs, "-o", out)
        assert done.returncode == 3, done.stderr
        rejects = tmp_path / f"out{jobs}.jsonl.rejects.jsonl"
        results.append((out.read_bytes(), rejects.read_bytes()))
    assert results[0] == results[1]
    commands = lines(results[0][0])
    assert len(commands) > 5000
    assert [c["data"]["properties"]["product_id"] for c in commands] == [
        f"P{i}" for i in range(len(commands))]
    (reject,) = lines(results[0][1])
    assert reject["reason"] == "unreadable input"
    assert "cannot be read on from line" in reject["errors"][0]["message"]
    assert reject["line"] in (2 * len(commands) + 1, 2 * len(commands) + 2)
