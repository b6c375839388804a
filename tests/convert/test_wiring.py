"""The converter's side of the reader and mapping interfaces: read warnings, per-section errors,
and mappings that read the raw UA object (``reads_raw``), each with small stand-ins.
"""

import json
from dataclasses import replace

import pytest

from ga_ee_bridge.convert.api import kept_items
from ga_ee_bridge.convert.options import ConvertOptions
from ga_ee_bridge.convert.outputs import format_summary
from ga_ee_bridge.convert.pushes import push_to_ecommerce
from ga_ee_bridge.convert.results import ConvertStats, Reject, Segment
from ga_ee_bridge.core.events import EventList, TrackEvent
from ga_ee_bridge.core.model import ReadWarning
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.mappings import MAPPINGS

T0 = 1_709_294_400
JOBS = pytest.mark.parametrize("jobs", [1, 2])


def warning_reader(push, *, strict=False, source="auto"):
    """The real reader, plus a warning for a ``brand`` of ``false`` (as the lenient one gives)."""
    products = push["ecommerce"]["detail"]["products"]
    kept = [{k: v for k, v in product.items() if v is not False} for product in products]
    parsed = push_to_ecommerce({"ecommerce": {"detail": {"products": kept}}}, strict=strict,
                               source=source)
    found = tuple(ReadWarning(f"detail.products[{i}].brand", "not text: False (left out)", False)
                  for i, product in enumerate(products) if product.get("brand") is False)
    return replace(parsed, warnings=found)


def split_reader(push, *, strict=False, source="auto"):
    """The real reader of the push without its ``add`` section, which fails on its own."""
    ecommerce = dict(push["ecommerce"])
    bad = ecommerce.pop("add", None)
    parsed = push_to_ecommerce({**push, "ecommerce": ecommerce}, strict=strict, source=source)
    if bad is None:
        return parsed
    error = EcommerceError({"add": {"products": {0: {"quantity": ["not a whole number: 1.5"]}}}})
    return replace(parsed, section_errors=(("add", error),))


def run(tmp_path, pushes, jobs, **options):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"timestamp": T0, **push}) + "\n" for push in pushes))
    stats = ConvertStats()
    events, rejects = [], []
    for batch in kept_items([str(path)], ConvertOptions(**options), encoder="dict", jobs=jobs,
                            stats=stats):
        for item in batch:
            if isinstance(item, Segment):
                events.extend(command["data"] for _, command in item.events)
            elif isinstance(item, Reject):
                rejects.append(item)
    return events, rejects, stats


def detail(brand):
    return {"ecommerce": {"detail": {"products": [{"id": "P1", "name": "Mug", "brand": brand}]}}}


@JOBS
def test_read_warnings_are_counted_by_kind_with_the_first_place(tmp_path, jobs):
    events, rejects, stats = run(tmp_path, [detail(False), detail("Acme"), detail(False)], jobs,
                                 reader=warning_reader)
    assert len(events) == 3 and not rejects
    kind = "ecommerce.detail.products[].brand: not text"
    assert stats.warnings == {kind: 2}
    assert stats.warnings_first[kind].endswith(
        "d.jsonl:1 ecommerce.detail.products[0].brand: not text: False (left out)")
    summary = format_summary(stats, 1.0)
    assert "values left out, their events kept (2 warning(s))" in summary


@JOBS
def test_a_failed_section_is_its_own_reject_and_the_others_convert(tmp_path, jobs):
    push = {"ecommerce": {
        "detail": {"products": [{"id": "P1", "name": "Mug"}]},
        "add": {"products": [{"id": "P2", "quantity": 1.5}]},
    }}
    events, rejects, stats = run(tmp_path, [push], jobs, reader=split_reader)
    assert [e["event_type"] for e in events] == ["product_detail"]
    [reject] = rejects
    assert reject.reason == "invalid ecommerce"
    assert reject.errors == (("ecommerce.add.products[0].quantity", "not a whole number: 1.5",
                              1.5),)
    assert stats.ecommerce == 1


class Threw(EcommerceError):
    """The stand-in's "the SDK threw": with the events sent before."""

    def __init__(self, messages, events=()):
        self.events = tuple(events)
        super().__init__(messages)


class RawStandIn:
    """A raw mapping: one ``seen`` event per section, in the order of ``kinds``; a section
    holding ``"throw"`` throws after the sections before it."""

    name = "raw-stand-in"
    tracked_via = "raw"
    reads_raw = True

    def events(self, ecommerce, kinds, *, tracked_via):
        return [TrackEvent("from_model", {"tracked_via": tracked_via})
                for kind in kinds if kind in ecommerce.sections]

    def events_raw(self, ecommerce, kinds, *, tracked_via):
        sent = EventList(warnings=(ReadWarning("detail", "raw warning", None),)
                         if "detail" in kinds and "detail" in ecommerce else ())
        for kind in kinds:
            if kind not in ecommerce:
                continue
            if ecommerce[kind] == "throw":
                raise Threw({kind: ["the SDK throws here"]}, events=list(sent))
            sent.append(TrackEvent(f"seen_{kind}", {"tracked_via": tracked_via,
                                                    "value": json.dumps(ecommerce[kind])}))
        return sent


@pytest.fixture
def raw_mapping(monkeypatch):
    monkeypatch.setitem(MAPPINGS, RawStandIn.name, RawStandIn())
    return RawStandIn.name


@JOBS
def test_a_raw_mapping_reads_the_pushed_object_not_the_model(tmp_path, jobs, raw_mapping):
    pushes = [
        # What the validating reader refuses (a purchase without an id) reaches it as pushed.
        {"ecommerce": {"detail": {"products": [{"quantity": "x"}]}, "purchase": {"a": 1}}},
        {"ecommerce": {"purchase": {"actionField": {"id": 5}}}},
        {"ecommerce": {"purchase": {"actionField": {"id": "5"}}}},  # its duplicate
        {"event": "purchase", "ecommerce": {"transaction_id": "G1", "items": [{"item_id": "I"}]}},
    ]
    events, rejects, stats = run(tmp_path, pushes, jobs, mapping=raw_mapping)
    assert not rejects
    assert [e["event_type"] for e in events] == [
        "seen_detail", "seen_purchase", "seen_purchase", "from_model"]  # GA4: the model
    assert events[0]["properties"]["value"] == json.dumps({"products": [{"quantity": "x"}]})
    assert stats.duplicates == 1
    assert stats.warnings == {"ecommerce.detail: raw warning": 1}


@JOBS
def test_where_a_raw_mapping_throws_the_events_before_are_kept(tmp_path, jobs, raw_mapping):
    push = {"ecommerce": {"impressions": [1], "detail": "throw", "refund": {"x": 1}}}
    events, rejects, stats = run(tmp_path, [push, {"ecommerce": {"add": "throw"}}], jobs,
                                 mapping=raw_mapping)
    assert [e["event_type"] for e in events] == ["seen_impressions"]  # refund never walked
    assert [r.errors for r in rejects] == [
        (("ecommerce.detail", "the SDK throws here", "throw"),),
        (("ecommerce.add", "the SDK throws here", "throw"),),
    ]
    assert stats.rejects == {"invalid ecommerce": 2}
