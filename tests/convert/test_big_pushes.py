"""Big pushes (100 products each) through ``--jobs``: tasks cut by bytes, the same output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ga_ee_bridge.cli import main
from ga_ee_bridge.convert.runner import TASK_BYTES

T0 = 1_709_294_400_000


def _products(page: int, count: int = 100) -> list[dict[str, object]]:
    return [{"id": f"SKU-{page}-{n}", "name": f"Product {n}", "brand": "Acme",
             "category": "Apparel/Shirts", "variant": "Blue", "price": f"{n + 1}.99",
             "quantity": 1 + n % 3} for n in range(count)]


def _pages(count: int) -> list[dict[str, object]]:
    pushes: list[dict[str, object]] = []
    for page in range(count):
        pushes += [
            {"user": {"email": f"user{page % 7}@example.com"}},
            {"gtm.start": T0 + page * 60_000, "event": "gtm.js"},
            {"event": "view_item_list", "ecommerce": {"impressions": _products(page)}},
            {"ecommerce": None},
            {"event": "purchase", "ecommerce": {"purchase": {  # every fifth page a reload
                "actionField": {"id": f"T{page - page % 5}", "revenue": "99.00"},
                "products": _products(page)}}},
        ]
    return pushes


@pytest.mark.parametrize("form", ["jsonl", "json"])
def test_big_pushes_give_the_same_output_with_one_or_two_jobs(tmp_path: Path, form: str) -> None:
    pushes = _pages(30)
    dump = tmp_path / f"big.{form}"
    if form == "jsonl":
        dump.write_text("".join(json.dumps(push) + "\n" for push in pushes))
    else:
        dump.write_text(json.dumps(pushes))
    assert dump.stat().st_size > 3 * TASK_BYTES  # several tasks, cut by bytes
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.jsonl"
        assert main(["convert", str(dump), "--id", "registered=user.email", "-j", jobs, "-q",
                     "-o", str(out)]) == 0
        outputs.append(out.read_bytes())
        assert (tmp_path / f"out{jobs}.jsonl.rejects.jsonl").read_bytes() == b""
    assert outputs[0] == outputs[1]
    commands = [json.loads(line) for line in outputs[0].splitlines()]
    transactions = [c for c in commands if c["data"]["event_type"] == "transaction"]
    assert len(transactions) == 6  # one per transaction id: the reloads are dropped
    assert len(commands) == 30 * 100 + 6 * 101
