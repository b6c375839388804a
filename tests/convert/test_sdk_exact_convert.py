"""`convert --mapping sdk-exact` sends what the library's sdk-exact gives, which the real web SDK
sent for every recorded case (fixtures/sdk-exact): the converter takes the raw path too."""

import json
from collections import defaultdict

import pytest
from support import REPO

import ga_ee_bridge as gee
from ga_ee_bridge.convert import Reject, convert_dump
from ga_ee_bridge.core.model import KINDS

T0_MS = 1_709_294_400_000


def _cases_by_kind():
    by_kind = defaultdict(list)
    for path in sorted((REPO / "fixtures" / "sdk-exact").glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8")):
            ecommerce, kind = case.get("ecommerce"), case.get("kind", "all")
            if isinstance(ecommerce, dict) and (kind == "all" or kind in KINDS):
                by_kind[kind].append(case)
    return by_kind


CASES = _cases_by_kind()


@pytest.mark.parametrize("kind", sorted(CASES))
def test_the_converter_sends_what_sdk_exact_gives(kind, tmp_path):
    cases = CASES[kind]
    pages, want = [], []
    for case in cases:
        push = {"event": "ecommerce", "ecommerce": case["ecommerce"]}
        pages.append({"dataLayer": [{"event": "gtm.js", "gtm.start": T0_MS}, push]})
        try:
            events = gee.to_exponea_events(push, kind, mapping="sdk-exact")
        except gee.EcommerceError as err:  # the SDK threw: what it sent before counts
            events = list(getattr(err, "events", ()))
        want += [[event.event_type, dict(event.properties)] for event in events]
    dump = tmp_path / "cases.jsonl"
    dump.write_text("".join(json.dumps(page) + "\n" for page in pages), encoding="utf-8")
    out = list(convert_dump(str(dump), mapping="sdk-exact", kind=kind, keep_duplicates=True))
    got = [[c["data"]["event_type"], c["data"]["properties"]] for c in out
           if not isinstance(c, Reject)]
    assert len(cases) > 3
    assert json.dumps(got) == json.dumps(want)
