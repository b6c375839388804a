"""Converting dumps: pages, ids, time, duplicates, rejects, the same output for any jobs."""

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import REPO

from ga_ee_bridge.convert import api as convert_module
from ga_ee_bridge.convert import json_stream
from ga_ee_bridge.convert import runner as parallel
from ga_ee_bridge.convert.api import convert_dump
from ga_ee_bridge.convert.options import ConvertOptions, IdSpec, normalise_id
from ga_ee_bridge.convert.pushes import push_to_ecommerce
from ga_ee_bridge.convert.results import ConvertStats, Reject
from ga_ee_bridge.errors import EcommerceError

FIXTURES = REPO / "fixtures" / "dumps"
T0 = 1_709_294_400  # 2024-03-01T12:00:00Z
GTM = {"gtm.start": T0 * 1000, "event": "gtm.js"}


def detail(product_id="P1", **extra):
    return {"ecommerce": {"detail": {"products": [{"id": product_id, "name": "Mug", **extra}]}}}


def purchase(transaction="T1", **extra):
    return {"ecommerce": {"purchase": {"actionField": {"id": transaction, "revenue": "10"},
                                       "products": [{"id": "P1", "price": "10"}]}, **extra}}


def run(tmp_path, pushes, name="dump.json", **options):
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(push) + "\n" for push in pushes))
    else:
        path.write_text(json.dumps(pushes))
    stats = ConvertStats()
    items = list(convert_dump(str(path), stats=stats, **options))
    commands = [item["data"] for item in items if isinstance(item, dict)]
    rejects = [item for item in items if isinstance(item, Reject)]
    return commands, rejects, stats


def test_whole_page_fixture_gives_the_expected_commands():
    expected = [
        json.loads(line)
        for line in (FIXTURES / "expected" / "whole-page.commands.jsonl").read_text().splitlines()
    ]
    got = list(convert_dump(str(FIXTURES / "whole-page.json"), ids=["registered=user.email"]))
    assert got == expected
    # What the rules say, checked directly rather than trusted from the file:
    types = [command["data"]["event_type"] for command in got]
    assert types == ["product_impression", "product_impression", "product_click",
                     "product_detail", "product_add_to_cart", "product_checkout", "checkout",
                     "checkout_option", "product_purchase", "product_purchase", "transaction"]
    stamps = [command["data"]["timestamp"] for command in got]
    # The impressions came before gtm.js: they take its time; then +1 ms per event.
    assert stamps == [T0 + i / 1000 for i in range(11)]
    assert {json.dumps(c["data"]["customer_ids"]) for c in got} == {
        '{"registered": "jane.doe@example.com"}'}


def test_push_to_ecommerce_is_the_one_reading_place():
    assert push_to_ecommerce({"event": "gtm.dom"}) is None
    assert push_to_ecommerce({"ecommerce": None}) is None
    assert push_to_ecommerce({"ecommerce": {}}) is None
    assert push_to_ecommerce(["set", "x", 1]) is None
    parsed = push_to_ecommerce(purchase())
    assert parsed is not None and "purchase" in parsed.sections
    with pytest.raises(EcommerceError):
        push_to_ecommerce({"ecommerce": {"purchase": {"actionField": {}}}})


def test_pushes_without_ecommerce_are_counted_not_converted(tmp_path):
    commands, rejects, stats = run(tmp_path, [GTM, {"ecommerce": None}, {"event": "x"},
                                              ["set", "a", 1], detail()])
    assert (stats.pushes, stats.ecommerce, stats.skipped) == (5, 1, 4)
    assert len(commands) == 1 and not rejects


# -- pages -------------------------------------------------------------------------------------


def test_gtm_js_after_gtm_js_starts_a_new_page(tmp_path):
    later = {"gtm.start": (T0 + 60) * 1000, "event": "gtm.js"}
    commands, _, stats = run(tmp_path, [GTM, detail(), detail(), later, detail()])
    assert stats.pages == 2
    assert [c["timestamp"] for c in commands] == [T0, T0 + 0.001, T0 + 60]
    cookies = [c["customer_ids"]["cookie"] for c in commands]
    assert cookies[0] == cookies[1] != cookies[2]


def test_state_does_not_leak_between_pages(tmp_path):
    later = {"gtm.start": (T0 + 60) * 1000, "event": "gtm.js"}
    pushes = [{"user": {"email": "a@example.com"}}, GTM, detail(), later, detail()]
    commands, _, _ = run(tmp_path, pushes, ids=["registered=user.email"])
    assert commands[0]["customer_ids"] == {"registered": "a@example.com"}
    assert "registered" not in commands[1]["customer_ids"]


def test_each_page_object_is_a_page_with_its_metadata(tmp_path):
    page = {
        "url": "https://shop.example.com/p/1",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                      "(KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
        "timestamp": "2024-03-01T12:00:00Z",
        "customer_ids": {"registered": " Ann@Example.COM "},
        "dataLayer": [detail(), detail("P2", location="kept")],
    }
    commands, _, stats = run(tmp_path, [page, page], name="pages.jsonl")
    assert stats.pages == 2
    first = commands[0]
    assert first["customer_ids"] == {"registered": "ann@example.com"}
    assert first["timestamp"] == T0
    assert first["properties"]["location"] == "https://shop.example.com/p/1"
    assert (first["properties"]["os"], first["properties"]["browser"]) == ("Windows", "Chrome")
    assert first["properties"]["device"] == "Other"
    # Each page restarts its sequence.
    assert [c["timestamp"] for c in commands] == [T0, T0 + 0.001, T0, T0 + 0.001]


def test_bad_page_customer_ids_are_reported(tmp_path):
    page = {"customer_ids": "jane", "timestamp": T0, "dataLayer": [detail()]}
    commands, rejects, _ = run(tmp_path, [page])
    assert [r.reason for r in rejects] == ["bad page metadata"]
    assert "cookie" in commands[0]["customer_ids"]


# -- customers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" Jane.Doe@Example.COM ", "jane.doe@example.com"), ("  U-42 ", "U-42"),
     ("CaseKept", "CaseKept"), (42, "42"), (42.0, "42"), ("   ", None), (None, None)],
)
def test_normalise_id(value, expected):
    assert normalise_id(value) == expected


@pytest.mark.parametrize("value", [{"a": 1}, [1], True, 1.5])
def test_normalise_id_refuses_what_is_no_id(value):
    with pytest.raises(ValueError, match="not a customer id"):
        normalise_id(value)


def test_id_specs_parse_and_refuse_nonsense():
    assert IdSpec.parse("registered=user.email") == IdSpec("registered", path=("user", "email"))
    assert IdSpec.parse("shop=: Acme ") == IdSpec("shop", value="Acme")
    for bad in ("registered", "=user", "x=", "x=:  ", "x=a..b"):
        with pytest.raises(ValueError):
            IdSpec.parse(bad)


def test_ids_from_paths_and_literals(tmp_path):
    pushes = [{"user": {"email": " Max@Example.ORG", "id": 12345}}, GTM, detail()]
    commands, _, _ = run(tmp_path, pushes,
                         ids=["registered=user.email", "user_id=user.id", "shop=:eu-1"])
    assert commands[0]["customer_ids"] == {
        "registered": "max@example.org", "user_id": "12345", "shop": "eu-1"}


def test_a_bad_id_value_rejects_the_push_with_its_path(tmp_path):
    pushes = [{"user": {"email": {"value": "x"}}}, GTM, detail()]
    commands, rejects, _ = run(tmp_path, pushes, ids=["registered=user.email"])
    assert not commands
    (reject,) = rejects
    assert reject.reason == "bad customer id"
    assert reject.errors[0][0] == "[2] user.email"
    assert reject.errors[0][2] == {"value": "x"}


def test_the_cookie_is_deterministic_and_joins_a_later_login(tmp_path):
    pushes = [GTM, detail(), {"user": {"email": "a@example.com"}}, detail()]
    first, _, _ = run(tmp_path, pushes, ids=["registered=user.email"])
    again, _, _ = run(tmp_path, pushes, ids=["registered=user.email"])
    assert first == again
    cookie = first[0]["customer_ids"]["cookie"]
    # After the login the event carries both ids, so Exponea merges the anonymous profile.
    assert first[1]["customer_ids"] == {"registered": "a@example.com", "cookie": cookie}
    # The cookie comes from the data, never the file's name: a renamed copy gives the same one.
    elsewhere, _, _ = run(tmp_path, pushes, name="other.json", ids=["registered=user.email"])
    assert elsewhere == first
    other_page, _, _ = run(tmp_path, [{**GTM, "gtm.start": GTM["gtm.start"] + 1}, *pushes[1:]],
                           ids=["registered=user.email"])
    assert other_page[0]["customer_ids"]["cookie"] != cookie


def test_pages_with_ids_get_no_cookie(tmp_path):
    commands, _, _ = run(tmp_path, [GTM, detail()], ids=["registered=:u1"])
    assert commands[0]["customer_ids"] == {"registered": "u1"}


# -- time --------------------------------------------------------------------------------------


def test_timestamp_path_option_and_formats(tmp_path):
    pushes = [{"hit": {"time": "2024-03-01T12:00:00.5Z"}}, detail(),
              {"hit": {"time": (T0 + 5) * 1_000_000}}, detail()]
    commands, _, _ = run(tmp_path, pushes, timestamp="hit.time")
    assert [c["timestamp"] for c in commands] == [T0 + 0.5, T0 + 5]


def test_default_timestamp_order(tmp_path):
    pushes = [GTM, {"event_timestamp": T0 + 1}, detail(), {"timestamp": T0 + 2}, detail()]
    commands, _, _ = run(tmp_path, pushes)
    assert [c["timestamp"] for c in commands] == [T0 + 1, T0 + 2]


def test_timestamps_stay_strictly_increasing_within_a_page(tmp_path):
    pushes = [{"timestamp": T0 + 10}, detail(), {"timestamp": T0}, detail(), detail()]
    commands, _, _ = run(tmp_path, pushes)
    assert [c["timestamp"] for c in commands] == [T0 + 10, T0 + 10.001, T0 + 10.002]


def test_pushes_before_gtm_take_its_time_and_no_time_is_a_reject(tmp_path):
    commands, rejects, _ = run(tmp_path, [detail("A"), detail("B"), GTM, detail("C")])
    assert [c["properties"]["product_id"] for c in commands] == ["A", "B", "C"]
    assert [c["timestamp"] for c in commands] == [T0, T0 + 0.001, T0 + 0.002]
    assert not rejects
    commands, rejects, stats = run(tmp_path, [detail("A"), {"event": "x"}])
    assert not commands
    assert [r.reason for r in rejects] == ["no timestamp"]
    assert "--no-timestamp-ok" in rejects[0].errors[0][1]
    assert stats.rejects == {"no timestamp": 1}


def test_no_timestamp_ok_sends_without_one(tmp_path):
    commands, rejects, _ = run(tmp_path, [detail("A")], no_timestamp_ok=True)
    assert "timestamp" not in commands[0] and not rejects


def test_held_pushes_are_bounded(tmp_path, monkeypatch):
    options = ConvertOptions(max_held=2)
    path = tmp_path / "x.json"
    path.write_text(json.dumps([detail(str(i)) for i in range(4)] + [GTM]))
    items = [item for batch in convert_module.kept_items([str(path)], options, encoder="dict")
             for item in batch]
    rejects = [item for item in items if isinstance(item, Reject)]
    assert [r.index for r in rejects] == [0, 1]
    assert "2 more ecommerce pushes came" in rejects[0].errors[0][1]
    converted = [item for item in items if not isinstance(item, Reject)]
    assert len(converted) == 2


def test_a_bad_timestamp_is_a_reject_with_the_value(tmp_path):
    _, rejects, _ = run(tmp_path, [{"timestamp": "soon"}, detail()])
    (reject,) = rejects
    assert reject.reason == "bad timestamp"
    assert reject.errors[0][0] == "[1] timestamp" and reject.errors[0][2] == "soon"


# -- duplicates, kinds, mappings, rejects ------------------------------------------------------


def test_duplicate_purchases_are_dropped_and_counted(tmp_path):
    reload_ = {"gtm.start": (T0 + 30) * 1000, "event": "gtm.js"}
    both = purchase("T1", impressions=[{"id": "X", "name": "Mug"}])
    pushes = [GTM, purchase("T1"), reload_, both, purchase("T2")]
    commands, _, stats = run(tmp_path, pushes)
    types = [(c["event_type"], c["properties"].get("transaction_id")) for c in commands]
    assert types == [("product_purchase", "T1"), ("transaction", "T1"),
                     ("product_impression", None),  # rides along and is kept
                     ("product_purchase", "T2"), ("transaction", "T2")]
    assert stats.duplicates == 1
    kept, _, stats = run(tmp_path, pushes, keep_duplicates=True)
    assert len(kept) == 7 and stats.duplicates == 0


def test_kind_mapping_and_tracked_via(tmp_path):
    pushes = [GTM, detail(price="15.25"), purchase()]
    commands, _, _ = run(tmp_path, pushes, kind="detail", mapping="sdk-exact",
                         tracked_via="dump")
    assert [c["event_type"] for c in commands] == ["product_detail"]
    assert commands[0]["properties"]["price"] == "15.25"
    assert commands[0]["properties"]["tracked_via"] == "dump"


def test_invalid_ecommerce_is_rejected_with_every_path_and_value(tmp_path):
    bad = {"ecommerce": {"purchase": {"actionField": {"revenue": "abc"},
                                      "products": [{"id": "P", "price": "n/a"}]}}}
    # Strict: lenient reading would leave the two bad values out (issue 9); the missing id stays.
    commands, rejects, stats = run(tmp_path, [GTM, bad, detail()], strict=True)
    assert len(commands) == 1
    (reject,) = rejects
    assert reject.push == bad and reject.index == 1
    assert {(path, value) for path, _, value in reject.errors} == {
        ("[1].ecommerce.purchase.actionField.revenue", "abc"),
        ("[1].ecommerce.purchase.actionField.id", None),
        ("[1].ecommerce.purchase.products[0].price", "n/a"),
    }
    assert reject.report_lines()[0].endswith(
        "dump.json:1 [1].ecommerce.purchase.actionField.revenue: not a plain number (lenient "
        "mode would repair it): 'abc'")
    assert json.loads(json.dumps(reject.to_json()))["push"] == bad
    assert stats.ecommerce == 2 and stats.rejects == {"invalid ecommerce": 1}


def test_strict_rejects_what_lenient_repairs(tmp_path):
    pushes = [GTM, detail(price="$275.00")]
    commands, _, _ = run(tmp_path, pushes)
    assert commands[0]["properties"]["price"] == 275.0
    commands, rejects, _ = run(tmp_path, pushes, strict=True)
    assert not commands and rejects[0].reason == "invalid ecommerce"


def test_nan_cannot_be_sent(tmp_path):
    path = tmp_path / "nan.jsonl"
    path.write_text(json.dumps(GTM) + "\n" + '{"ecommerce": {"detail": {"products": '
                    '[{"id": "P", "metric1": NaN}]}}}\n')
    items = list(convert_dump(str(path), no_timestamp_ok=True))
    assert [type(item) for item in items] == [dict]  # lenient: NaN left out, the event kept
    assert "metric1" not in items[0]["data"]["properties"]
    items = list(convert_dump(str(path), strict=True))
    assert [type(item) for item in items] == [Reject]
    assert items[0].errors[0][0] == "ecommerce.detail.products[0].metric1"
    assert "not a finite number" in items[0].errors[0][1]


def test_broken_json_is_a_reject(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(GTM) + '\n{"ecommerce": \n' + json.dumps(detail()) + "\n")
    items = list(convert_dump(str(path)))
    assert isinstance(items[0], Reject) and items[0].reason == "broken JSON"
    assert items[0].line == 2 and items[0].push == '{"ecommerce": '
    assert items[1]["data"]["event_type"] == "product_detail"


def test_bad_options_say_what_is_wrong():
    with pytest.raises(ValueError, match="unknown kind"):
        ConvertOptions(kind="purchases")
    with pytest.raises(ValueError, match="unknown mapping"):
        ConvertOptions(mapping="ga4")
    with pytest.raises(ValueError, match="given twice"):
        ConvertOptions(ids=(IdSpec("a", value="1"), IdSpec("a", value="2")))


# -- jobs --------------------------------------------------------------------------------------


def many_pages(count):
    pushes = []
    for page in range(count):
        pushes += [{"user": {"email": f"u{page % 7}@example.com" if page % 3 else ""}},
                   {"gtm.start": (T0 + page) * 1000, "event": "gtm.js"},
                   detail(f"P{page}"), {"ecommerce": None}, purchase(f"T{page % 50}")]
        if page % 17 == 0:
            pushes.append({"ecommerce": {"purchase": {"actionField": {}}}})
    return pushes


@pytest.mark.parametrize("name", ["many.json", "many.jsonl"])
def test_the_output_is_the_same_whatever_the_jobs(tmp_path, monkeypatch, name):
    monkeypatch.setattr(parallel, "TASK_RECORDS", 50)  # many tasks for a small input
    monkeypatch.setattr(parallel, "LONG_PAGE", 400)
    monkeypatch.setattr(parallel, "TASK_BYTES", 3000)
    monkeypatch.setattr(parallel, "LONG_BYTES", 20_000)
    monkeypatch.setattr(json_stream, "CHUNK", 4096)  # JSON lines come in blocks of this size
    pushes = many_pages(200)
    pushes[500:500] = [detail(f"L{i}") for i in range(450)]  # one page too long for a task
    one = run(tmp_path, pushes, name=name, ids=["registered=user.email"])
    two = run(tmp_path, pushes, name=name, ids=["registered=user.email"], jobs=2)
    assert one[0] == two[0]
    assert [r.to_json() for r in one[1]] == [r.to_json() for r in two[1]]
    assert one[2] == two[2]
    assert one[2].duplicates == 150 and one[2].pages == 200


@settings(max_examples=30)
@given(st.lists(st.sampled_from(["gtm", "detail", "ts", "late", "null", "bad"]), max_size=25))
def test_every_ecommerce_push_is_converted_or_rejected_and_time_goes_forward(tmp_path_factory,
                                                                              steps):
    pushes = []
    for step in steps:
        pushes.append({
            "gtm": GTM, "detail": detail(), "ts": {"timestamp": T0 + 5},
            "late": {"timestamp": T0 - 5}, "null": {"ecommerce": None},
            "bad": {"ecommerce": {"detail": "nope"}},
        }[step])
    commands, rejects, stats = run(tmp_path_factory.mktemp("p"), pushes)
    assert stats.ecommerce == steps.count("detail") + steps.count("bad")
    assert len(commands) + len(rejects) == stats.ecommerce
    pages: dict[str, list[float]] = {}  # no ids given: each page has its own cookie
    for command in commands:
        pages.setdefault(command["customer_ids"]["cookie"], []).append(command["timestamp"])
    for stamps in pages.values():
        assert all(a < b for a, b in itertools.pairwise(stamps))
        assert all(math.isfinite(s) for s in stamps)
    assert len(pages) <= max(1, steps.count("gtm"))


def test_thousands_of_transaction_ids_keep_the_first_of_each_in_input_order(tmp_path):
    # Enough ids for the duplicate set to grow several times; ids alike but for one character,
    # one not ASCII, one with a lone surrogate (JSON allows it), repeats far apart.
    ids = [f"T{n}" for n in range(3000)] + ["T1é", "T1\ud800", "t1", "T01"]
    order = ids + ids[::7] + ["T2999", "T1é", "T1\ud800"]
    pushes = [GTM] + [{"ecommerce": {"purchase": {"actionField": {"id": t, "revenue": "1"}}}}
                      for t in order]
    commands, rejects, stats = run(tmp_path, pushes, name="dump.jsonl")
    assert rejects == []
    kept = [c["properties"]["transaction_id"] for c in commands if c["event_type"] == "transaction"]
    assert kept == ids
    assert stats.duplicates == len(order) - len(ids)
