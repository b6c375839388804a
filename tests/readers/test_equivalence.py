"""Property: a UA object rendered as analytics.js commands, a Measurement Protocol hit or a
BigQuery export row converts to the same Exponea events (sdk mapping) as the UA object itself.

UA objects come from the shared strategies (``ga_ee_bridge.testing.strategies``, clean, custom
dimensions and metrics included): what one hit carries, i.e. at most one action (a product
action or a promotion click) with impressions and/or a promotion view. Money has at most 6
decimals, so that BigQuery's micros hold every amount exactly.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.renderings import HIT_ACTIONS, analyticsjs, bigquery_row, can_be_hit, mp_hit

from ga_ee_bridge import to_exponea_events
from ga_ee_bridge.readers.analyticsjs import read_analyticsjs
from ga_ee_bridge.readers.bigquery import read_bigquery_row
from ga_ee_bridge.readers.mp import read_mp_hit
from ga_ee_bridge.testing import strategies as gst
from ga_ee_bridge.testing.strategies import EcommerceCase


@st.composite
def _hit_kinds(draw: st.DrawFn, action: str | None) -> list[str]:
    """The sections of one hit: ``action`` (or none), plus impressions and/or a promotion view."""
    extras = ["impressions"] if action == "promoClick" else ["impressions", "promoView"]
    kinds = [action] if action else []
    kinds += draw(st.lists(st.sampled_from(extras), min_size=0 if action else 1, unique=True))
    return kinds


def _hits(action: str | None) -> st.SearchStrategy[EcommerceCase]:
    # Hypothesis also draws the readers' own literals: GA's placeholder "(not set)" is absent in
    # hits and export rows by design, so an id or name of that text cannot convert alike.
    return _hit_kinds(action).flatmap(
        lambda kinds: gst.cases(kinds, dirty=False, decimals=6)
    ).filter(lambda case: '"(not set)"' not in json.dumps(case.intended))


# One run per action, so that every action is drawn whatever the seed; 30 examples each keep the
# three tests near 10 s together in CI.
_EACH_ACTION = pytest.mark.parametrize("action", [*HIT_ACTIONS, None])
_EXAMPLES = settings(max_examples=30)


def _events(events: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event_type, dict(e.properties)) for e in events]


@_EACH_ACTION
@_EXAMPLES
@given(data=st.data())
def test_analyticsjs_converts_like_ua(action: str | None, data: st.DataObject) -> None:
    case = data.draw(_hits(action))
    assert can_be_hit(case.intended)
    expected = _events(to_exponea_events(case.ecommerce, strict=True))
    sends = list(read_analyticsjs(analyticsjs(case.intended), strict=True))
    assert len(sends) <= 1  # none when nothing was added (e.g. an empty impression list)
    assert all(parsed.dropped_keys == () for parsed in sends)
    assert [e for parsed in sends for e in _events(to_exponea_events(parsed))] == expected


@_EACH_ACTION
@_EXAMPLES
@given(data=st.data())
def test_mp_hit_converts_like_ua(action: str | None, data: st.DataObject) -> None:
    case = data.draw(_hits(action))
    expected = _events(to_exponea_events(case.ecommerce, strict=True))
    hit = read_mp_hit(mp_hit(case.intended, client_id="555"), strict=True)
    assert hit.ecommerce.dropped_keys == ()
    assert _events(to_exponea_events(hit.ecommerce)) == expected
    assert hit.client_id == "555"


@_EACH_ACTION
@_EXAMPLES
@given(data=st.data())
def test_bigquery_row_converts_like_ua(action: str | None, data: st.DataObject) -> None:
    case = data.draw(_hits(action).filter(lambda c: can_be_hit(c.intended, bigquery=True)))
    expected = _events(to_exponea_events(case.ecommerce, strict=True))
    row = bigquery_row(case.intended, visitor="1", visit_start=1501583974)
    records = list(read_bigquery_row(row, strict=True))
    assert len(records) <= 1  # none when the hit holds no ecommerce (e.g. no promotion rows)
    assert all(r.ecommerce.dropped_keys == () for r in records)
    assert [e for r in records for e in _events(to_exponea_events(r.ecommerce))] == expected
    assert all((r.customer_id, r.timestamp) == ("1", 1501583974.0) for r in records)
