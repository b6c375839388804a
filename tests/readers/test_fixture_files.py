"""The shipped fixtures are well-formed: layout, event taxonomy, invariants of both mappings.

These checks read only the JSON files (not the converter), so a hand-edited fixture that breaks the
documented layout or contradicts the mapping table fails here, before it can mislead a user.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support import REPO

UA = REPO / "fixtures" / "ua"
VALID = sorted(UA.glob("*.json"))
INVALID = sorted(UA.glob("invalid/*.json"))
STRICT = sorted(UA.glob("strict/*.json"))

# fmt: off
KINDS = ("impressions", "click", "detail", "add", "remove", "promoView", "promoClick", "checkout",
         "checkout_option", "purchase", "refund")
SECTION_EVENTS = (  # event types in send order, per section (in KINDS order)
    ("product_impression",), ("product_click",), ("product_detail",), ("product_add_to_cart",),
    ("product_remove_from_cart",), ("promo_impression",), ("promo_click",),
    ("product_checkout", "checkout"), ("checkout_option",), ("product_purchase", "transaction"),
    ("product_refund", "refund"),
)
ACTION_FIELDS = ("transaction_id", "affiliation", "revenue", "tax", "shipping", "coupon", "list",
                 "step", "option")
PRODUCT_FIELDS = ("product_id", "name", "brand", "category", "variant", "price", "quantity",
                  "coupon", "position")
IMPRESSION_FIELDS = ("product_id", "name", "price", "brand", "category", "variant", "list",
                     "position")
PROMO_FIELDS = ("promo_id", "name", "creative", "position")
# fmt: on
EVENT_RANK = {t: i for i, t in enumerate(t for ts in SECTION_EVENTS for t in ts)}
SUMMARIES = {"checkout", "checkout_option", "transaction", "refund"}
PROMO_EVENTS = {"promo_impression", "promo_click"}
TRACKED_VIA = {"sdk": "ecommerce", "sdk-exact": "eecommerce"}
#: Fixtures of a shape only ``sdk`` repairs (a flat detail): the real SDK sends nothing for them.
SDK_SKIPS_REPAIRED = {"rw-flat-detail-gtm4wp"}
CUSTOM = re.compile(r"(dimension|metric)\d+")
PATH = re.compile(r"[A-Za-z_]+(\[\d+\])*(\.[A-Za-z_]+(\[\d+\])*)*")


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def canonical_order(event_type: str) -> tuple[str, ...]:
    """The allowed key sequence for an event type (customs excluded), per the mapping rules."""
    head = ("tracked_via", "currency_code")
    if event_type == "product_impression":
        return head + IMPRESSION_FIELDS
    if event_type in PROMO_EVENTS:
        return head + PROMO_FIELDS
    if event_type in SUMMARIES:
        return (*head, *ACTION_FIELDS, "refund_type")
    return head + ACTION_FIELDS + PRODUCT_FIELDS


def is_subsequence(keys: list[str], order: tuple[str, ...]) -> bool:
    it = iter(order)
    return all(any(k == o for o in it) for k in keys)


def test_there_are_fixtures_of_every_kind() -> None:
    assert len(VALID) >= 25 and len(INVALID) >= 5 and len(STRICT) >= 4
    seen = {ev["event_type"] for p in VALID for ev in load(p)["expected"]["sdk"]}
    assert seen == set(EVENT_RANK)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_fixture_layout(path: Path) -> None:
    fx = load(path)
    assert list(fx) == ["description", "source", "kind", "input", "expected"]
    assert fx["description"] and fx["source"]
    assert fx["kind"] == "all" or fx["kind"] in KINDS
    assert list(fx["expected"]) == ["sdk", "sdk-exact"]
    types = {m: [ev["event_type"] for ev in evs] for m, evs in fx["expected"].items()}
    if path.stem in SDK_SKIPS_REPAIRED:
        assert types["sdk-exact"] == [], "the web SDK does not read the shape sdk repairs"
    else:
        assert types["sdk"] == types["sdk-exact"], "same events, same order in both mappings"
    ranks = [EVENT_RANK[t] for t in types["sdk"]]
    assert ranks == sorted(ranks), "events follow the section order"


@pytest.mark.parametrize("mapping", ["sdk", "sdk-exact"])
@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_expected_events_follow_the_mapping_table(path: Path, mapping: str) -> None:
    for ev in load(path)["expected"][mapping]:
        assert list(ev) == ["event_type", "properties"]
        etype, props = ev["event_type"], ev["properties"]
        keys = list(props)
        assert keys[0] == "tracked_via" and props["tracked_via"] == TRACKED_VIA[mapping]
        assert ("refund_type" in props) == (etype == "refund")
        if etype == "refund":
            assert keys[-1] == "refund_type" and props["refund_type"] in ("full", "partial")
        standard = [k for k in keys if not CUSTOM.fullmatch(k)]
        customs = keys[len(standard) :]
        assert standard + customs == keys, "custom keys come after the standard fields"
        # product events list `coupon` twice: an overriding product coupon keeps the first place
        assert is_subsequence(standard, canonical_order(etype)), keys
        if mapping == "sdk-exact":
            assert not customs and all(props.values()), "only truthy whitelisted values"
            continue
        assert not customs or etype.startswith("product_"), "customs only on product events"
        for key, value in props.items():
            assert value is not None and value != "", key
            if key in ("price", "revenue", "tax", "shipping") or key.startswith("metric"):
                assert type(value) is float, (key, value)
            elif key in ("quantity", "step") or (key == "position" and etype not in PROMO_EVENTS):
                assert type(value) is int, (key, value)
            else:
                assert type(value) is str, (key, value)
        if "currency_code" in props:
            assert props["currency_code"] == props["currency_code"].strip().upper()


@pytest.mark.parametrize("path", INVALID + STRICT, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_error_fixture_layout(path: Path) -> None:
    fx = load(path)
    if path.parent.name == "invalid":
        assert list(fx) == ["description", "input", "strict", "errors"] and fx["strict"] is False
    else:
        assert list(fx) == ["description", "input", "errors"]
    assert fx["description"] and fx["errors"]
    assert len(set(fx["errors"])) == len(fx["errors"])
    for err in fx["errors"]:
        assert PATH.fullmatch(err), err
        assert err.split(".")[0].split("[")[0] in KINDS, err
