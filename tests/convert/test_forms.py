"""Every GA form through the converter and the CLI: detection, --source, ids, time, rejects."""

import json
import os
import subprocess
import sys

import pytest
from support import REPO

from ga_ee_bridge.convert.api import convert_dump
from ga_ee_bridge.convert.input import detect_form
from ga_ee_bridge.convert.pushes import push_to_ecommerce
from ga_ee_bridge.convert.results import ConvertStats, Reject
from ga_ee_bridge.errors import EcommerceError

ROOT = REPO
DUMPS = ROOT / "fixtures" / "dumps"
EXPECTED = DUMPS / "expected"
T0 = 1_709_294_400  # 2024-03-01T12:00:00Z

#: fixture, its form, the events it must give (in order), its rejects (path, value).
FORMS = {
    "ga4-page.json": ("ga4", [
        "product_impression", "product_impression", "product_add_to_cart", "product_purchase",
        "transaction", "product_purchase", "transaction",
    ], []),
    # Since issue 9 a price that cannot be read is left out with a warning (the push converts).
    "gtag-page.json": ("gtag", ["product_impression", "product_add_to_cart", "product_purchase",
                                "transaction"], []),
    "analyticsjs-pages.jsonl": ("analyticsjs", [
        "product_impression", "product_detail", "product_add_to_cart", "product_purchase",
        "transaction", "product_refund", "refund",
    ], []),
    "mp-hits.log": ("mp", [
        "product_impression", "product_detail", "product_add_to_cart", "product_purchase",
        "transaction", "product_add_to_cart",
    ], [("timestamp", None)]),
    "bq-sessions.jsonl": ("bq", [
        "product_impression", "product_impression", "promo_impression", "product_click",
        "product_detail", "product_add_to_cart", "product_checkout", "checkout",
        "product_purchase", "transaction", "checkout_option", "refund", "product_add_to_cart",
    ], []),
}


def cli(*args, stdin=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ga_ee_bridge", *map(str, args)], input=stdin,
        capture_output=True, env=env, cwd=ROOT, timeout=120,
    )


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def convert(tmp_path, name, text, **options):
    path = tmp_path / name
    path.write_text(text)
    stats = ConvertStats()
    items = list(convert_dump(str(path), stats=stats, **options))
    return ([item["data"] for item in items if isinstance(item, dict)],
            [item for item in items if isinstance(item, Reject)], stats)


# -- every form through the CLI, detected and forced ------------------------------------------

@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_form_converts_through_the_cli_detected_or_forced(tmp_path, name):
    source, types, rejects = FORMS[name]
    stem = name.rsplit(".", 1)[0]
    expected = (EXPECTED / f"{stem}.commands.jsonl").read_bytes()
    outputs = []
    for extra in ([], ["--source", source], ["--jobs", "2"]):
        out = tmp_path / f"out{len(outputs)}.jsonl"
        done = cli("convert", DUMPS / name, "--id", "registered=user.email", "-o", out, *extra)
        assert done.returncode == (3 if rejects else 0), done.stderr
        outputs.append(out.read_bytes())
        got = jsonl((tmp_path / f"{out.name}.rejects.jsonl").read_text())
        assert [(e["path"], e["value"]) for r in got for e in r["errors"]] == rejects
    assert [c["data"]["event_type"] for c in jsonl(expected.decode())] == types
    if source != "ga4":
        assert outputs == [expected] * 3
        return
    # Forced GA4 reads the last push (UA and GA4 keys) from its GA4 keys: still once.
    assert outputs[0] == outputs[2] == expected
    forced, auto = jsonl(outputs[1].decode()), jsonl(expected.decode())
    assert forced[:5] == auto[:5] and len(forced) == len(auto)
    assert [c["data"]["properties"].get("value") for c in forced[5:]] == [20.0, 20.0]


def test_ga4_page_ids_time_and_unsupported_event_in_the_summary(tmp_path):
    done = cli("convert", DUMPS / "ga4-page.json", "--id", "registered=user.email")
    assert done.returncode == 0
    commands = [c["data"] for c in jsonl(done.stdout.decode())]
    assert {json.dumps(c["customer_ids"]) for c in commands} == {
        '{"registered": "jane.doe@example.com"}'}
    assert [c["timestamp"] for c in commands] == [T0 + i / 1000 for i in range(7)]
    purchase = commands[3]["properties"]
    # GA4 value excludes tax and shipping; revenue = value + tax + shipping.
    assert (purchase["value"], purchase["tax"], purchase["revenue"]) == (19.98, 1.6, 24.91)
    assert commands[0]["properties"]["category"] == "Apparel/Adult/Shirts"
    assert commands[1]["properties"]["position"] == 2  # index 1 -> position 2
    summary = done.stderr.decode()
    assert "no UA Enhanced Ecommerce counterpart (view_cart 1)" in summary
    assert "rejected: none" in summary


def test_a_mixed_ua_and_ga4_push_converts_once(tmp_path):
    push = json.loads((DUMPS / "ga4-page.json").read_text())[-1]
    assert "purchase" in push["ecommerce"] and "items" in push["ecommerce"]
    text = json.dumps([{"timestamp": T0}, push])
    commands, rejects, stats = convert(tmp_path, "mixed.json", text)
    assert [c["event_type"] for c in commands] == ["product_purchase", "transaction"]
    assert commands[1]["properties"]["revenue"] == 24.91  # UA's revenue, as pushed
    assert "value" not in commands[1]["properties"]
    assert stats.dropped["ecommerce.items"] == 1 and not rejects
    # Forced GA4: still once, read from the GA4 keys.
    commands, _, _ = convert(tmp_path, "mixed.json", text, source="ga4")
    assert [c["event_type"] for c in commands] == ["product_purchase", "transaction"]
    assert commands[1]["properties"]["value"] == 20.0


def test_validate_reports_rejects_and_unsupported_events():
    done = cli("validate", DUMPS / "mp-hits.log", DUMPS / "gtag-page.json", "-q")
    assert done.returncode == 3
    report = done.stdout.decode()
    # Since issue 9 the unreadable prices of mp-hits.log:5 and gtag-page.json:57 are left out
    # (the hits convert), so no line is invalid ecommerce.
    assert "[invalid ecommerce]" not in report
    assert "fixtures/dumps/mp-hits.log:6 timestamp: no timestamp" in report
    assert "TIME<TAB>HIT" in report
    assert ("fixtures/dumps/gtag-page.json:42 dataLayer[4]: warning: add_to_wishlist has no UA "
            "Enhanced Ecommerce counterpart") in report


def test_usage_errors_for_source_options():
    done = cli("convert", DUMPS / "bq-sessions.jsonl", "--source", "ua4")
    assert done.returncode == 2 and b"--source" in done.stderr
    done = cli("convert", DUMPS / "bq-sessions.jsonl", "--bq-customer-id", "email")
    assert done.returncode == 2 and b"BigQuery customer id column email" in done.stderr


# -- push forms: the one reader ------------------------------------------------------------------

def test_push_to_ecommerce_reads_ua_ga4_and_gtag_with_rooted_error_paths():
    ga4 = {"event": "add_to_cart", "ecommerce": {"items": [{"item_id": "A", "price": 2}]}}
    assert push_to_ecommerce(ga4).source == "ga4"
    gtag_push = {"0": "event", "1": "view_item", "2": {"items": [{"item_id": "A"}]}}
    assert push_to_ecommerce(gtag_push).source == "gtag"
    assert push_to_ecommerce({"0": "event", "1": "page_view", "2": {}}) is None
    assert push_to_ecommerce({"0": "config", "1": "G-1"}) is None
    assert push_to_ecommerce({"event": "view_cart", "ecommerce": {
        "items": [{"item_id": "A"}]}}).unsupported_event == "view_cart"
    with pytest.raises(EcommerceError) as caught:
        push_to_ecommerce({"event": "add_to_cart", "ecommerce": {"items": [{"price": "x"}]}})
    assert any(path.startswith("ecommerce.items[0]") for path in caught.value.paths)
    with pytest.raises(EcommerceError) as caught:
        push_to_ecommerce(["event", "add_to_cart", {"items": [{"item_id": "A", "price": "x"}]}],
                          strict=True)
    assert caught.value.paths == ["[2].items[0].price"]
    with pytest.raises(EcommerceError) as caught:
        push_to_ecommerce({"ecommerce": {"purchase": {"actionField": {}}}})
    assert caught.value.paths == ["ecommerce.purchase.actionField.id"]
    # Forcing: pushes not in the forced form carry nothing for it.
    assert push_to_ecommerce(ga4, source="gtag") is None
    assert push_to_ecommerce(gtag_push, source="ga4") is None
    assert "items" in push_to_ecommerce(ga4, source="ua").dropped
    with pytest.raises(ValueError, match="unknown source"):
        push_to_ecommerce(ga4, source="bq")


# -- file forms: detection -------------------------------------------------------------------

@pytest.mark.parametrize(("head", "form"), [
    (b"v=1&tid=UA-1&cid=5&t=pageview\n", "mp"),
    (b"2024-03-01T12:00:00Z\tv=1&t=event&pa=add&pr1id=P\n", "mp"),
    (b'{"timestamp": 1, "hit": "v=1&t=pageview&tid=UA-1"}\n', "mp"),
    (b'{"visitStartTime": "1", "fullVisitorId": "7", "hits": []}\n', "bq"),
    (b'{"fullVisitorId": "7", "hits": [{"hitNumber": "1", ' + b"x" * 70000, "bq"),
    (b'[["create", "UA-1", "auto"], ["ec:addProduct", {"id": "P"}]]', "analyticsjs"),
    (b'["create", "UA-1", "auto"]\n["ec:addProduct", {"id": "P"}]\n', "analyticsjs"),
    (b'{"timestamp": 1, "commands": [["send", "pageview"]]}\n', "analyticsjs"),
    (b'[{"event": "gtm.js"}, {"ecommerce": {}}]', "json"),
    (b'["event", "purchase", {"items": []}]\n["config", "G-1"]\n', "jsonl"),
    (b'{"event": "gtm.js"}\n{"ecommerce": null}\n', "jsonl"),
    (b'{"dataLayer": [], "url": "https://x"}', "json"),
])
def test_each_file_form_is_detected_from_its_content(head, form):
    assert detect_form(head).name == form


def test_source_forces_the_file_form_and_push_sources_keep_datalayer_forms():
    assert detect_form(b"[]", source="mp").name == "mp"
    assert detect_form(b"v=1&t=pageview\n", source="bq").name == "bq"
    assert detect_form(b'[["create"], ["ec:addProduct", {}]]', source="ga4").name == "json"


# -- Measurement Protocol ----------------------------------------------------------------------

HIT = "v=1&tid=UA-1&cid=555&t=event&pa=detail&pr1id=P1&pr1nm=Mug"


def test_mp_ids_from_cid_and_uid_and_time_from_receive_time_minus_qt(tmp_path):
    text = (f"{T0}\t{HIT}&uid=U-7&qt=1500\n"
            f"2024-03-01T12:00:10Z\t{HIT.replace('cid=555', 'cid=556')}\n")
    commands, rejects, stats = convert(tmp_path, "hits.log", text)
    assert not rejects and (stats.pushes, stats.pages) == (2, 2)
    assert [(c["customer_ids"], c["timestamp"]) for c in commands] == [
        ({"cookie": "555", "registered": "U-7"}, T0 - 1.5),
        ({"cookie": "556"}, T0 + 10.0),
    ]
    # --id adds an id from the hit's parameters and wins for its name.
    commands, _, _ = convert(tmp_path, "hits.log", text, ids=["registered=hit.cid"])
    assert commands[1]["customer_ids"] == {"cookie": "556", "registered": "556"}


def test_mp_batch_body_in_json_lines_and_bad_lines_are_rejects(tmp_path):
    batch = json.dumps({"timestamp": T0, "hit": f"{HIT}\n\n{HIT}&promoa=zz\n{HIT}&qt=2000"})
    text = "\n".join([batch, '{"timestamp": 1}', f"{T0}\tnot a hit", f"{T0}\t{HIT}"]) + "\n"
    commands, rejects, stats = convert(tmp_path, "hits.log", text)
    assert [c["timestamp"] for c in commands] == [T0, T0 - 2.0, float(T0)]
    assert [(r.line, r.index, r.reason, r.errors[0][0]) for r in rejects] == [
        (1, 1, "invalid ecommerce", "promoa"),
        (2, None, "broken hit", ""),
        (3, None, "invalid ecommerce", ""),
    ]
    assert rejects[1].push == '{"timestamp": 1}' and stats.pushes == 5  # and a broken line


def test_mp_without_receive_time_needs_no_timestamp_ok(tmp_path):
    commands, rejects, _ = convert(tmp_path, "hits.log", HIT + "\n")
    assert not commands and rejects[0].reason == "no timestamp"
    commands, rejects, _ = convert(tmp_path, "hits.log", HIT + "\n", no_timestamp_ok=True)
    assert not rejects and "timestamp" not in commands[0]


# -- BigQuery ------------------------------------------------------------------------------------

def test_bq_customer_id_columns_and_hit_times(tmp_path):
    rows = (DUMPS / "bq-sessions.jsonl").read_text().splitlines()[1]
    row = json.loads(rows)
    start = int(row["visitStartTime"])
    commands, rejects, _ = convert(tmp_path, "rows.jsonl", rows + "\n")
    assert not rejects
    assert {json.dumps(c["customer_ids"]) for c in commands} == {
        json.dumps({"cookie": row["fullVisitorId"]})}
    times = [int(h["time"]) for h in row["hits"][1:]]
    assert [c["timestamp"] for c in commands] == [start + t / 1000 for t in times]
    commands, _, _ = convert(tmp_path, "rows.jsonl", rows + "\n",
                             bq_customer_id=("userId", "fullVisitorId"))
    assert commands[0]["customer_ids"] == {"registered": row["userId"]}
    # A row without the column gets the next one, then a generated cookie.
    first = (DUMPS / "bq-sessions.jsonl").read_text().splitlines()[0]
    commands, _, _ = convert(tmp_path, "rows.jsonl", first + "\n", bq_customer_id="userId")
    cookie = commands[0]["customer_ids"]["cookie"]
    assert len(cookie) == 36 and {c["customer_ids"]["cookie"] for c in commands} == {cookie}


def test_bq_broken_and_foreign_lines_are_rejects(tmp_path):
    row = (DUMPS / "bq-sessions.jsonl").read_text().splitlines()[1]
    text = "\n".join([row, '{"visitId": 1, "hits": [', '{"visitId": 1, "hits": 3}', row])
    commands, rejects, stats = convert(tmp_path, "rows.jsonl", text + "\n", source="bq",
                                       keep_duplicates=True)
    assert len(commands) == 4
    assert [(r.line, r.reason) for r in rejects] == [(2, "broken JSON"),
                                                     (3, "invalid ecommerce")]
    assert stats.rejects == {"broken JSON": 1, "invalid ecommerce": 1}


# -- analytics.js --------------------------------------------------------------------------------

COMMANDS = [
    ["create", "UA-1", "auto"], ["set", "&cu", "EUR"],
    ["ec:addProduct", {"id": "P1", "name": "Mug"}], ["t2.ec:addProduct", {"id": "P9"}],
    ["ec:setAction", "detail"], ["send", "pageview"],
    ["ec:addProduct", {"brand": "x"}], ["ec:setAction", "add"], ["send", "event"],
    ["t2.ec:setAction", "detail"], ["t2.send", "pageview"],
    ["create", "UA-1", "auto"], ["ec:addProduct", {"id": "P3"}], ["ec:setAction", "detail"],
    ["send", "pageview"], ["ec:addProduct", {"id": "P4"}],
]


def test_analyticsjs_list_sends_per_tracker_pages_at_create_and_rejects(tmp_path):
    commands, rejects, stats = convert(tmp_path, "ga.json", json.dumps(COMMANDS),
                                       no_timestamp_ok=True)
    got = [(c["event_type"], c["properties"]["product_id"], c["properties"].get("currency_code"))
           for c in commands]
    assert got == [("product_detail", "P1", "EUR"), ("product_detail", "P9", None),
                   ("product_detail", "P3", None)]
    assert [(r.index, r.errors[0][:2]) for r in rejects] == [
        (8, ("[6][1]", "needs an 'id' or a 'name', found neither: {'brand': 'x'}"))]
    assert stats.pages == 2 and stats.pushes == len(COMMANDS)
    assert stats.dropped == {"[]": 1}  # P4: never sent, reported
    # JSONL of the same commands reads the same; its paths count lines from 0.
    text = "".join(json.dumps(command) + "\n" for command in COMMANDS)
    again, rejects, _ = convert(tmp_path, "ga.jsonl", text, no_timestamp_ok=True)
    assert [c["properties"] for c in again] == [c["properties"] for c in commands]
    assert rejects[0].errors[0][0] == "[6][1]" and rejects[0].line == 9


def test_analyticsjs_page_objects_give_ids_and_time(tmp_path):
    page = {"timestamp": "2024-03-01T12:00:00Z", "customer_ids": {"registered": "A@B.com"},
            "commands": COMMANDS[:9]}
    commands, rejects, stats = convert(tmp_path, "ga.json", json.dumps(page))
    assert [(c["customer_ids"], c["timestamp"]) for c in commands] == [
        ({"registered": "a@b.com"}, T0)]
    assert rejects[0].errors[0][0] == "[6][1]"
    assert stats.dropped == {"[]": 1}  # t2's product: never sent


def test_file_forms_give_the_same_output_whatever_the_jobs(tmp_path):
    lines = (DUMPS / "mp-hits.log").read_text().splitlines()
    (tmp_path / "big.log").write_text("\n".join(lines * 3000) + "\n")
    outputs = []
    for jobs in ("1", "2"):
        done = cli("convert", tmp_path / "big.log", "-q", "--jobs", jobs, "--keep-duplicates",
                   "--rejects", tmp_path / f"rejects{jobs}.jsonl")
        assert done.returncode == 3
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == 6 * 3000
    assert (tmp_path / "rejects1.jsonl").read_bytes() == (tmp_path / "rejects2.jsonl").read_bytes()
