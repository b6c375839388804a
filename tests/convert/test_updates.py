"""identify / update from dumps (``--update``): ``customers`` commands before the customer's events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ga_ee_bridge import convert_dump
from ga_ee_bridge.convert import ConvertStats, Reject
from ga_ee_bridge.convert.updates import UpdateSpec
from ga_ee_bridge.errors import RuleError

T0 = 1_709_294_400
ADD = {"event": "addToCart", "ecommerce": {"add": {"products": [{"id": "P1", "quantity": 1}]}}}


def page(*pushes: Any, start: bool = True) -> dict[str, Any]:
    head = [{"event": "gtm.js", "gtm.start": T0 * 1000}] if start else []
    return {"url": "https://shop.example.com/", "dataLayer": [*head, *pushes]}


def convert(tmp_path: Path, pages: list[dict[str, Any]], **options: Any) -> list[Any]:
    path = tmp_path / "dump.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in pages))
    options.setdefault("ids", ["registered=user.id"])
    return list(convert_dump(str(path), **options))


def names(out: list[Any]) -> list[str]:
    return [item.reason if isinstance(item, Reject) else
            item["name"] if item["name"] == "customers" else item["data"]["event_type"]
            for item in out]


def test_parse_paths_and_literals() -> None:
    assert UpdateSpec.parse("email=user.email") == UpdateSpec("email", path=("user", "email"))
    assert UpdateSpec.parse("phone=:+421 905 123 456") == UpdateSpec("phone", value="+421905123456")
    assert UpdateSpec.parse("email=: Jo@Example.COM") == UpdateSpec("email", value="jo@example.com")
    assert UpdateSpec.parse("tier=:gold").value == "gold"


@pytest.mark.parametrize(("text", "says"), [
    ("email", "PROPERTY=PATH"), ("=user.email", "PROPERTY=PATH"), ("email=", "PROPERTY=PATH"),
    ("tier=: ", "empty"), ("phone=:0905 123", "phone"), ("language=:english", "two-letter"),
    ("jméno=user.name", "ASCII"),
])
def test_bad_specs_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(RuleError, match=says):
        UpdateSpec.parse(text)


def test_once_per_customer_and_values_before_the_customer_s_next_event(tmp_path: Path) -> None:
    user = {"user": {"id": "U1", "email": "A@Example.com ", "phone": "+44 20 7946 0958"}}
    pages = [
        page(user, ADD, ADD),
        page(user, ADD),  # the same customer and values: nothing new
        page({"user": {"id": "U1", "email": "a@example.com", "phone": "+442079460958"}}, ADD),
        page({"user": {"id": "U2", "email": "b@example.com"}}, ADD),
        page({"user": {"id": "U1", "email": "new@example.com"}}, ADD),
    ]
    stats = ConvertStats()
    out = convert(tmp_path, pages, updates=["email=user.email", "phone=user.phone"], stats=stats)
    assert names(out) == ["customers", "product_add_to_cart", "product_add_to_cart",
                          "product_add_to_cart", "product_add_to_cart",
                          "customers", "product_add_to_cart", "customers", "product_add_to_cart"]
    first, second, third = (item for item in out if item["name"] == "customers")
    assert first == {"name": "customers", "data": {
        "customer_ids": {"registered": "U1"}, "update_timestamp": float(T0),
        "properties": {"email": "a@example.com", "phone": "+442079460958"}}}
    assert out[1]["data"]["timestamp"] == float(T0)  # the event right after, at the same time
    assert second["data"]["customer_ids"] == {"registered": "U2"}
    assert second["data"]["properties"] == {"email": "b@example.com"}  # only what is known
    assert third["data"]["properties"] == {"email": "new@example.com"}  # a new page's state
    assert stats.customers == 3 and stats.events["product_add_to_cart"] == 6
    assert stats.duplicates == 0


def test_nothing_without_a_following_event_or_known_values(tmp_path: Path) -> None:
    out = convert(tmp_path, [page({"user": {"id": "U1", "email": "a@example.com"}}),
                             page({"user": {"id": "U2"}}, ADD)], updates=["email=user.email"])
    assert names(out) == ["product_add_to_cart"]


def test_a_value_that_cannot_be_sent_is_a_reject_and_the_events_are_kept(tmp_path: Path) -> None:
    user = {"user": {"id": "U1", "email": "a@example.com", "phone": "0905 123"}}
    out = convert(tmp_path, [page(user, ADD, ADD)], updates=["email=user.email",
                                                             "phone=user.phone"])
    assert names(out) == ["bad customer property", "customers", "product_add_to_cart",
                          "product_add_to_cart"]  # reported once for the page
    reject = out[0]
    assert reject.errors[0][0].endswith("user.phone") and reject.errors[0][2] == "0905 123"
    assert "phone" in reject.errors[0][1] and "international" in reject.errors[0][1]
    assert out[1]["data"]["properties"] == {"email": "a@example.com"}


def test_objects_are_no_customer_property(tmp_path: Path) -> None:
    out = convert(tmp_path, [page({"user": {"id": "U1", "address": {"city": "Bratislava"}}}, ADD)],
                  updates=["address=user.address"])
    assert names(out) == ["bad customer property", "product_add_to_cart"]
    assert "text, a number or a boolean" in out[0].errors[0][1]


def test_cookie_customers_and_no_timestamp(tmp_path: Path) -> None:
    out = convert(tmp_path, [page({"plan": "pro"}, ADD, start=False)], ids=[],
                  updates=["plan=plan", "source=:ga"], no_timestamp_ok=True)
    assert names(out) == ["customers", "product_add_to_cart"]
    command = out[0]["data"]
    assert set(command["customer_ids"]) == {"cookie"}
    assert command["customer_ids"] == out[1]["data"]["customer_ids"]
    assert "update_timestamp" not in command
    assert command["properties"] == {"plan": "pro", "source": "ga"}


def test_the_same_property_twice_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="twice"):
        convert(tmp_path, [page(ADD)], updates=["email=user.email", "email=:x@example.com"])
