"""trackLink rules (``--link``): parsing, what each selector matches on GTM's click pushes."""

from __future__ import annotations

import pickle

import pytest

from ga_ee_bridge.convert.links import LinkRule, link_events
from ga_ee_bridge.errors import GaEeBridgeError, RuleError


def click(url: str = "", classes: str = "", element_id: str = "", event: str = "gtm.linkClick",
          **extra: object) -> dict[str, object]:
    return {"event": event, "gtm.element": {}, "gtm.elementClasses": classes,
            "gtm.elementId": element_id, "gtm.elementTarget": "", "gtm.elementUrl": url,
            "gtm.uniqueEventId": 9, **extra}


@pytest.mark.parametrize(("selector", "push", "hit"), [
    ("#signup", click(element_id="signup"), True),
    ("#signup", click(element_id="signup-2"), False),
    (".promo", click(classes="nav-link promo"), True),
    (".promo", click(classes="promotion"), False),
    ('a[href="https://shop.example.com/cart"]', click("https://shop.example.com/cart"), True),
    ('a[href="https://shop.example.com/cart"]', click("https://shop.example.com/cart?x=1"), False),
    ('a[href="/cart"]', click("https://shop.example.com/cart"), True),
    ("a[href='/cart?step=2']", click("https://shop.example.com/cart?step=2"), True),
    ('a[href^="https://partner."]', click("https://partner.example.org/x"), True),
    ('a[href^="/sale/"]', click("https://shop.example.com/sale/summer"), True),
    ('a[href^="/sale/"]', click("https://shop.example.com/outlet/sale/"), False),
    ('a[href*="utm_source"]', click("https://shop.example.com/?utm_source=mail"), True),
    ('a[href*=""]', click("https://shop.example.com/"), False),  # CSS: an empty value never matches
    ('a[href$=".pdf"]', click("https://shop.example.com/guide.pdf"), True),
    ("a[href$=.pdf]", click("https://shop.example.com/guide.pdf?v=2"), False),
    ('a[href$=".pdf"]', click("", classes="pdf"), False),
    ('a[href$=".pdf"]', click("https://x.example/a.pdf", **{"gtm.element": {"tagName": "DIV"}}),
     False),
    ('a[href$=".pdf"]', click("https://x.example/a.pdf", **{"gtm.element": {"tagName": "A"}}),
     True),
    ("*", click(), True),
    ("#a, .b ,a[href$='.zip']", click("https://x.example/f.zip"), True),
    ("#a, .b ,a[href$='.zip']", click(classes="b"), True),
    ("#a, .b ,a[href$='.zip']", click(classes="c"), False),
])
def test_selector_matches_what_gtm_records(selector: str, push: dict[str, object],
                                           hit: bool) -> None:
    assert LinkRule(selector, "clicked").matches(push) is hit
    assert len(link_events([LinkRule(selector, "clicked")], push)) == int(hit)


@pytest.mark.parametrize("selector", [
    "a.btn", "div", "#a #b", "a > .b", "a[href~='x']", "[href='x']", "a[title='x']", "#", ".",
    "#a,", ",#a", "#a,,#b", "*.b", "a[href='x'", "button#go", ":hover",
])
def test_other_selector_syntax_is_an_error_naming_the_selector(selector: str) -> None:
    with pytest.raises(RuleError) as info:
        LinkRule.parse(f"{selector}=clicked")
    assert selector in str(info.value) and "selector" in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, GaEeBridgeError)


def test_parse_splits_at_the_first_equals_sign_outside_the_brackets() -> None:
    rule = LinkRule.parse('a[href^="/p?a=b"]=product_link {"area": "grid", "n": 0}')
    assert rule.selector == 'a[href^="/p?a=b"]'
    assert rule.event_type == "product_link"
    assert dict(rule.properties) == {"area": "grid", "n": 0}
    assert rule.matches(click("https://shop.example.com/p?a=b&c=d"))
    assert dict(LinkRule.parse("#x=tap").properties) == {}


@pytest.mark.parametrize(("text", "says"), [
    ("#x", "SELECTOR=EVENT_TYPE"),
    ("#x=", "event type"),
    ("#x=two words here", "not JSON"),
    ('#x=tap ["a"]', "JSON object"),
    ('#x=tap {"a": NaN}', "not JSON"),
    ('#x=tap {"": 1}', "property names"),
    ('#x=tap {"é": 1}', "property names"),
    ("#x=táp", "event type"),
])
def test_bad_rules_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(RuleError, match=says):
        LinkRule.parse(text)


def test_every_matching_rule_in_order_yields_one_event_no_tracked_via() -> None:
    rules = [LinkRule(".promo", "promo_link", {"slot": 1}), LinkRule("#nope", "never"),
             LinkRule("*", "any_click")]
    events = link_events(rules, click("https://shop.example.com/sale", classes="promo"))
    assert [(e.event_type, dict(e.properties)) for e in events] == [
        ("promo_link", {"slot": 1}), ("any_click", {})]
    assert link_events(rules, click(event="gtm.click"))[0].event_type == "any_click"


@pytest.mark.parametrize("push", [
    {"event": "gtm.formSubmit", "gtm.elementId": "x"}, {"gtm.elementId": "x"}, ["gtm.linkClick"],
    {"event": "addToCart", "ecommerce": {}},
])
def test_only_gtm_click_pushes_are_matched(push: object) -> None:
    assert link_events([LinkRule("*", "any")], push) == []


def test_a_rule_pickles_for_worker_processes_and_its_properties_are_read_only() -> None:
    rule = LinkRule.parse('.b=tap {"k": [1, 2]}')
    assert pickle.loads(pickle.dumps(rule)) == rule
    with pytest.raises(TypeError):
        rule.properties["k"] = 3  # type: ignore[index]
