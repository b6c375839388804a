"""The same Enhanced Ecommerce data in UA, GA4 and gtag.js form converts to the same events.

UA objects come from the shared strategies (``ga_ee_bridge.testing.strategies``, clean), one to three
sections each, restricted to what the event forms can express (see ``can_be_ga4`` /
``can_be_gtag`` in ``renderings``); each section is rendered as its own GA4 / gtag.js push.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.renderings import can_be_ga4, can_be_gtag, ga4, gtag, without_custom

from ga_ee_bridge import to_exponea_events
from ga_ee_bridge.core.model import KINDS
from ga_ee_bridge.testing import strategies as gst
from ga_ee_bridge.testing.strategies import EcommerceCase


def _event_cases(
    kind: str, others: tuple[str, ...], *, decimals: int | None = None
) -> st.SearchStrategy[EcommerceCase]:
    """Clean UA objects with ``kind`` and up to two of ``others``, without custom
    dimensions/metrics."""
    rest = st.lists(st.sampled_from([k for k in others if k != kind]), max_size=2, unique=True)
    return rest.flatmap(
        lambda more: gst.cases([kind, *more], dirty=False, decimals=decimals)
    ).map(without_custom)


def _ga4_steps(case: EcommerceCase) -> EcommerceCase:
    """A checkout as GA4 numbers it: step 1, 2 or 3 (drawn steps 4-6 fold onto them, a missing
    step is 1), an option only on steps 2 and 3; set alike as pushed and as meant."""
    if "checkout" not in case.intended:
        return case
    meant = case.intended["checkout"].get("actionField", {})
    step = (meant.get("step", 1) - 1) % 3 + 1
    if step == 1 and "option" in meant:
        step = 2
    ecommerce, intended = copy.deepcopy(case.ecommerce), copy.deepcopy(case.intended)
    for obj in (ecommerce, intended):
        obj["checkout"].setdefault("actionField", {})["step"] = step
    return EcommerceCase(ecommerce=ecommerce, intended=intended, kinds=case.kinds)


# The GA4 reader rounds the revenue it computes (value + tax + shipping) to 6 decimals: the
# amounts it can give back exactly have at most 6.
_GA4_KINDS = tuple(k for k in KINDS if k != "checkout_option")


def _ga4_cases(kind: str) -> st.SearchStrategy[EcommerceCase]:
    return (
        _event_cases(kind, _GA4_KINDS, decimals=6)
        .map(_ga4_steps)
        .filter(lambda case: can_be_ga4(case.intended))
    )


def _gtag_cases(kind: str) -> st.SearchStrategy[EcommerceCase]:
    return _event_cases(kind, KINDS).filter(lambda case: can_be_gtag(case.intended))


# One run per kind, so that every kind is drawn whatever the seed; 30 examples each keep both
# tests near 5 s together in CI.
_EXAMPLES = settings(max_examples=30)


def _plain(events: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event_type, dict(e.properties)) for e in events]


def _by_section(case: EcommerceCase, pushes: list[Any]) -> list[tuple[str, Any, Any]]:
    """``(kind, UA events of that section, events of its push)``; one push per section."""
    assert len(pushes) == len(case.kinds)
    result = []
    for kind, push in zip(case.kinds, pushes, strict=True):
        converted = to_exponea_events(push, strict=True)
        assert converted.dropped == (), push
        result.append((kind, _plain(to_exponea_events(case.ecommerce, kind, strict=True)),
                       _plain(converted)))
    # The sections' events, in KINDS order, are the whole object's events.
    whole = _plain(to_exponea_events(case.ecommerce, strict=True))
    assert [e for _, ua, _ in result for e in ua] == whole
    return result


@pytest.mark.parametrize("kind", _GA4_KINDS)
@_EXAMPLES
@given(data=st.data())
def test_ga4_form_converts_to_the_same_events(kind: str, data: st.DataObject) -> None:
    case = data.draw(_ga4_cases(kind))
    for section, expected, got in _by_section(case, ga4(case.intended)):
        assert [t for t, _ in got] == [t for t, _ in expected]
        meant = case.intended[section]
        action = meant.get("actionField", {}) if section != "impressions" else {}
        for (_, ua_props), (_, ga4_props) in zip(expected, got, strict=True):
            # Where GA4 legitimately differs: it sends `value` (revenue without tax and
            # shipping) where UA sends `revenue`; the reader keeps `value` and gives back a
            # revenue only when tax and shipping are both known (a missing tax is unknown, not
            # zero). Everything else must be equal.
            value = ga4_props.pop("value", None)
            if "revenue" in action:
                tax, shipping = action.get("tax", 0.0), action.get("shipping", 0.0)
                assert value == action["revenue"] - tax - shipping
                if not all(key in action for key in ("tax", "shipping")):
                    assert "revenue" not in ga4_props
                    ua_props.pop("revenue")
            else:
                assert value is None
            assert ga4_props == ua_props


@pytest.mark.parametrize("kind", KINDS)
@_EXAMPLES
@given(data=st.data())
def test_gtag_form_converts_to_the_same_events(kind: str, data: st.DataObject) -> None:
    case = data.draw(_gtag_cases(kind))
    for _, expected, got in _by_section(case, gtag(case.intended)):
        assert got == expected
