"""``ga-ee-bridge validate``: the same reading, no output, every problem as file:line path."""

import os
import subprocess
import sys

from support import REPO

ROOT = REPO
FIXTURES = ROOT / "fixtures" / "dumps"


def cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "ga_ee_bridge", *map(str, args)],
                          capture_output=True, env=env, cwd=ROOT, timeout=60)


def test_clean_dumps_exit_0_with_no_report():
    done = cli("validate", "fixtures/dumps/whole-page.json", "fixtures/dumps/crawl.jsonl.gz")
    assert done.returncode == 0
    assert done.stdout == b""
    assert "rejected: none" in done.stderr.decode()


def test_every_problem_is_reported_with_file_line_and_path(tmp_path):
    broken = tmp_path / "log.jsonl"
    broken.write_text('{"timestamp": 1709294400}\n{"ecommerce": \n')
    done = cli("validate", "fixtures/dumps/shop-dirt.json", broken, "-q")
    assert done.returncode == 3
    report = done.stdout.decode().splitlines()
    assert report[:1] == [  # its unreadable revenue and price alone would be warnings
        "fixtures/dumps/shop-dirt.json:1 [8].ecommerce.purchase.actionField.id: "
        "missing: a purchase needs an id, found None [invalid ecommerce]",
    ]
    expected = f"{broken}:2: broken JSON on line 2: Expecting value at column 16 [broken JSON]"
    assert expected in report
    warnings = [line for line in report if "warning" in line]
    assert "fixtures/dumps/shop-dirt.json:1 [5] ecommerce.detail.products[].sku: warning: not an " \
           "Enhanced Ecommerce field, left out (1 push; the first here)" in warnings
    assert done.stderr == b""


def test_validate_applies_the_conversion_rules():
    strict = cli("validate", "fixtures/dumps/shop-dirt.json", "--strict", "-q")
    assert strict.returncode == 3
    assert "[4].ecommerce.click.products[0].price" in strict.stdout.decode()
    no_time = cli("validate", "fixtures/dumps/checkout-page.json", "--timestamp", "hit.time", "-q")
    assert no_time.returncode == 3
    assert "no timestamp" in no_time.stdout.decode()
    usage = cli("validate", "fixtures/dumps/whole-page.json", "--id", "x=")
    assert usage.returncode == 2
