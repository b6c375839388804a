"""The Exponea client: the web SDK's identify/update/anonymize/track semantics and the checks."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest

import ga_ee_bridge as gee
from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.request import APIError
from ga_ee_bridge.testing.server import ExponeaServer, Fault

FAST = {"backoff": 0.005, "max_backoff": 0.05, "flush_interval": 0.02}
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1")
PURCHASE = {"currencyCode": "EUR", "purchase": {
    "actionField": {"id": "T1", "revenue": "35.43"},
    "products": [{"id": "P1", "name": "Shirt", "price": "15.25", "quantity": 1},
                 {"id": "P2", "name": "Hat", "price": 10, "quantity": 2}]}}


@pytest.fixture
def client(exponea_server: ExponeaServer) -> Exponea:
    with Exponea(exponea_server.project_token, api_key_id=exponea_server.api_key_id,
                 api_secret=exponea_server.api_secret, base_url=exponea_server.url,
                 **FAST) as running:
        yield running


def _is_uuid4(value: str) -> bool:
    return uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value


# -- ids: the reference's identify / anonymize sequences -----------------------------------------

def test_new_customer_gets_a_uuid4_cookie(client: Exponea) -> None:
    for visitor in (client.customer(), client.customer(cookie=None)):
        assert list(visitor.customer_ids) == ["cookie"]
        assert _is_uuid4(visitor.customer_ids["cookie"])
    assert client.customer(cookie="abc").customer_ids == {"cookie": "abc"}
    assert client.customer(registered="x@y.z").customer_ids == {"registered": "x@y.z"}


def test_identify_with_a_string_means_registered_and_keeps_cookie(
        client: Exponea, exponea_server: ExponeaServer) -> None:
    visitor = client.customer(cookie="etc-1")
    visitor.identify("Gordon@Example.com ", {"first_name": "Gordon"})
    assert visitor.customer_ids == {"cookie": "etc-1", "registered": "gordon@example.com"}
    visitor.identify("gordon@example.com")  # no properties: an empty object
    assert client.flush(5)
    assert exponea_server.customers[0]["customer_ids"] == visitor.customer_ids
    assert exponea_server.customers[0]["properties"] == {"first_name": "Gordon"}
    assert exponea_server.customers[1]["properties"] == {}


def test_identify_with_an_object_merges_ids(client: Exponea,
                                            exponea_server: ExponeaServer) -> None:
    visitor = client.customer(cookie="etc-1")
    visitor.identify({"registered": "a@b.cd"})
    visitor.identify({"registered": "a@b.cd", "user_id": 42})  # from one hard id to two
    assert visitor.customer_ids == {"cookie": "etc-1", "registered": "a@b.cd", "user_id": 42}
    visitor.track("view")
    assert client.flush(5)
    assert exponea_server.events[0]["customer_ids"] == visitor.customer_ids


def test_identify_ignores_a_cookie_with_a_warning(client: Exponea,
                                                  exponea_server: ExponeaServer) -> None:
    visitor = client.customer(cookie="etc-1")
    with pytest.warns(UserWarning, match="cookie"):
        visitor.identify({"cookie": "other", "registered": "r1"})
    assert visitor.customer_ids == {"cookie": "etc-1", "registered": "r1"}
    assert client.flush(5)
    assert exponea_server.customers[0]["customer_ids"]["cookie"] == "etc-1"


def test_anonymize_starts_a_new_visitor(client: Exponea, exponea_server: ExponeaServer) -> None:
    visitor = client.customer(cookie="etc-1")
    visitor.identify("gordon@example.com")
    visitor.track("before")
    new_cookie = visitor.anonymize()
    assert _is_uuid4(new_cookie) and new_cookie != "etc-1"
    assert visitor.customer_ids == {"cookie": new_cookie}
    visitor.track("after")
    assert client.flush(5)
    ids = {e["event_type"]: e["customer_ids"] for e in exponea_server.events}
    assert ids == {"before": {"cookie": "etc-1", "registered": "gordon@example.com"},
                   "after": {"cookie": new_cookie}}
    assert exponea_server.anonymized == []  # the SDK's anonymize() sends nothing
    assert len(exponea_server.customers) == 1


def test_anonymize_customer_is_the_gdpr_call(client: Exponea,
                                             exponea_server: ExponeaServer) -> None:
    client.anonymize_customer({"registered": "gordon@example.com"})
    assert exponea_server.anonymized == [{"registered": "gordon@example.com"}]
    with pytest.raises(ValueError, match="customer_ids"):
        client.anonymize_customer({})
    public = Exponea(exponea_server.project_token, public_token=exponea_server.public_token,
                     base_url=exponea_server.url)
    with pytest.raises(APIError, match="private access"):
        public.anonymize_customer({"registered": "x"})
    public.close()


# -- properties ----------------------------------------------------------------------------------

def test_update_normalises_what_is_safe(client: Exponea, exponea_server: ExponeaServer) -> None:
    visitor = client.customer(registered="r1")
    visitor.update({"email": " Gordon@Example.COM", "phone": "+421 (905) 123-456",
                    "language": "SK", "first_name": "Gordon"})
    assert client.flush(5)
    assert exponea_server.customers == [{
        "customer_ids": {"registered": "r1"},
        "properties": {"email": "gordon@example.com", "phone": "+421905123456",
                       "language": "sk", "first_name": "Gordon"},
        "update_timestamp": exponea_server.customers[0]["update_timestamp"]}]


def test_events_get_user_agent_location_and_defaults(exponea_server: ExponeaServer) -> None:
    with Exponea(exponea_server.project_token, api_key_id=exponea_server.api_key_id,
                 api_secret=exponea_server.api_secret, base_url=exponea_server.url,
                 default_properties={"shop": "eu", "browser": "default"}, **FAST) as client:
        visitor = client.customer(cookie="c", user_agent=CHROME, url="https://shop.example/a")
        visitor.track("view", {"price": 0, "coupon": "", "note": None})
        visitor.track("view2", {"browser": "mine", "location": "x"}, user_agent=IPHONE)
        client.customer(cookie="d").track("bare")
        assert client.flush(5)
    props = {e["event_type"]: e["properties"] for e in exponea_server.events}
    assert props["view"] == {"os": "Windows", "browser": "default", "device": "Other",
                             "location": "https://shop.example/a", "shop": "eu", "price": 0,
                             "coupon": "", "note": None}
    assert props["view2"] == {"os": "iOS", "browser": "mine", "device": "iPhone",
                              "location": "x", "shop": "eu"}
    assert props["bare"] == {"shop": "eu", "browser": "default"}


def test_values_are_converted(client: Exponea, exponea_server: ExponeaServer) -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    client.customer(cookie="c").track("view", {
        "at": when, "naive": when.replace(tzinfo=None), "day": dt.date(2024, 1, 2),
        "price": Decimal("7.99"), "count": Decimal("3"), "tags": ("a", "b"),
        "nested": {"d": Decimal("1.5")}}, timestamp=when)
    assert client.flush(5)
    [event] = exponea_server.events
    assert event["timestamp"] == when.timestamp()
    assert event["properties"] == {
        "at": when.timestamp(), "naive": when.timestamp(), "day": 1704153600.0, "price": 7.99,
        "count": 3, "tags": ["a", "b"], "nested": {"d": 1.5}}


# -- checks before queueing: ValueError naming the attribute ---------------------------------------

@pytest.mark.parametrize(("call", "attribute"), [
    (lambda v: v.track(""), "event_type"),
    (lambda v: v.track(None), "event_type"),
    (lambda v: v.track("view", {"naïve": 1}), "properties.naïve"),
    (lambda v: v.track("view", {f"p{i}": i for i in range(256)}), "properties"),
    (lambda v: v.track("view", {"big": "x" * 17000}), "properties.big"),
    (lambda v: v.track("view", {"s": {1, 2}}), "properties.s"),
    (lambda v: v.track("view", {"f": float("nan")}), "properties.f"),
    (lambda v: v.track("view", {"l": [1, object()]}), "properties.l[1]"),
    (lambda v: v.track("view", {"d": {1: 2}}), "properties.d"),
    (lambda v: v.track("view", timestamp="yesterday"), "timestamp"),
    (lambda v: v.update({"phone": "0905 123 456"}), "properties.phone"),
    (lambda v: v.update({"phone": "+12"}), "properties.phone"),
    (lambda v: v.update({"language": "svk"}), "properties.language"),
    (lambda v: v.update({f"p{i}": i for i in range(256)}), "properties"),
    (lambda v: v.identify(""), "customer_ids.registered"),
    (lambda v: v.identify({"user_id": None}), "customer_ids.user_id"),
    (lambda v: v.identify(True), "customer_ids"),
    (lambda v: v.identify("a@b.cd", {"ñ": 1}), "properties.ñ"),
    (lambda v: v.track_enhanced_ecommerce(5), "ecommerce"),
    (lambda v: v.track_enhanced_ecommerce(PURCHASE, "nope"), "kind"),
])
def test_validation_errors_name_the_attribute(client: Exponea, exponea_server: ExponeaServer,
                                              call: Any, attribute: str) -> None:
    visitor = client.customer(cookie="c", registered="r")
    before = visitor.customer_ids
    with pytest.raises(ValueError) as caught:
        call(visitor)
    assert attribute in str(caught.value)
    assert client.queued == 0  # nothing was queued
    assert visitor.customer_ids == before  # and the ids did not change
    assert client.flush(1) and exponea_server.requests == []


def test_bad_customer_ids(client: Exponea) -> None:
    with pytest.raises(ValueError, match=r"customer_ids\.registered"):
        client.customer(registered="  ")
    with pytest.raises(ValueError, match=r"default_properties\.x"):
        Exponea("p", public_token="t", default_properties={"x": {1, 2}})


def test_limits_are_inclusive(client: Exponea, exponea_server: ExponeaServer) -> None:
    visitor = client.customer(cookie="c")
    visitor.track("view", {f"p{i}": i for i in range(255)})
    visitor.update({"big": "x" * (16 * 1024 - 2)})
    assert client.flush(5)
    assert len(exponea_server.events[0]["properties"]) == 255


# -- timestamps ----------------------------------------------------------------------------------

def test_tied_timestamps_get_one_millisecond(client: Exponea,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ga_ee_bridge.send.client.time.time", lambda: 1_700_000_000.0)
    assert [client.timestamp() for _ in range(3)] == pytest.approx(
        [1_700_000_000.0, 1_700_000_000.001, 1_700_000_000.002])


def test_timestamps_strictly_increase_across_threads(client: Exponea) -> None:
    stamps: list[list[float]] = [[] for _ in range(4)]

    def take(bucket: list[float]) -> None:
        for _ in range(2000):
            bucket.append(client.timestamp())

    threads = [threading.Thread(target=take, args=(b,)) for b in stamps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [s for bucket in stamps for s in bucket]
    assert len(set(every)) == len(every)
    assert all(bucket == sorted(bucket) for bucket in stamps)


def test_events_in_call_order_have_increasing_timestamps(
        client: Exponea, exponea_server: ExponeaServer) -> None:
    visitor = client.customer(cookie="c")
    for n in range(30):
        visitor.track("view", {"n": n})
    assert client.flush(5)
    events = sorted(exponea_server.events, key=lambda e: e["properties"]["n"])
    stamps = [e["timestamp"] for e in events]
    assert all(b > a for a, b in itertools.pairwise(stamps))


# -- enhanced ecommerce --------------------------------------------------------------------------

def test_track_enhanced_ecommerce(client: Exponea, exponea_server: ExponeaServer) -> None:
    done: list[str] = []
    visitor = client.customer(cookie="c", user_agent=CHROME, url="https://shop.example/thanks")
    count = visitor.track_enhanced_ecommerce(PURCHASE, "purchase",
                                             on_success=lambda: done.append("ok"))
    assert count == 3
    assert client.flush(5)
    assert done == ["ok"]  # once, when all three were accepted
    events = sorted(exponea_server.events, key=lambda e: e["timestamp"])
    assert [e["event_type"] for e in events] == ["product_purchase", "product_purchase",
                                                 "transaction"]
    assert all(e["customer_ids"] == {"cookie": "c"} for e in events)
    first = events[0]["properties"]
    assert first["product_id"] == "P1" and first["transaction_id"] == "T1"
    assert first["os"] == "Windows" and first["location"] == "https://shop.example/thanks"
    assert first["tracked_via"] == "ecommerce"
    tracked = visitor.track_enhanced_ecommerce(PURCHASE, tracked_via="eecommerce", immediate=True)
    assert tracked == 3
    assert client.flush(5)
    assert exponea_server.events[-1]["properties"]["tracked_via"] == "eecommerce"


def test_track_enhanced_ecommerce_with_bloomreach_s_recommended_events(
        client: Exponea, exponea_server: ExponeaServer) -> None:
    visitor = client.customer(cookie="c", url="https://shop.example/thanks")
    visitor.identify("Jo@Example.com", {"phone": "+421 905 123 456"})
    assert visitor.track_enhanced_ecommerce(PURCHASE, mapping="bloomreach") == 3
    assert client.flush(5)
    assert exponea_server.customers[0]["properties"] == {"phone": "+421905123456"}
    events = sorted(exponea_server.events, key=lambda e: e["timestamp"])
    assert [e["event_type"] for e in events] == ["purchase_item", "purchase_item", "purchase"]
    assert events[1]["properties"]["total_price"] == 20
    summary = events[2]["properties"]
    assert summary["purchase_id"] == "T1" and summary["purchase_status"] == "success"
    assert summary["product_ids"] == ["P1", "P2"] and summary["total_quantity"] == 3
    assert summary["total_price"] == 35.43 and summary["local_currency"] == "EUR"
    assert summary["location"] == "https://shop.example/thanks"
    assert all(e["customer_ids"] == {"cookie": "c", "registered": "jo@example.com"}
               for e in events)


def test_track_enhanced_ecommerce_bad_input_queues_nothing(client: Exponea) -> None:
    visitor = client.customer(cookie="c")
    with pytest.raises(gee.EcommerceError, match=r"products\[0\]"):
        visitor.track_enhanced_ecommerce({"purchase": {"actionField": {"id": "T"},
                                                       "products": [{"price": "abc"}]}},
                                         strict=True)
    assert client.queued == 0


def test_enhanced_ecommerce_refusal_reaches_on_error_per_event(
        client: Exponea, exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(reject=frozenset({1})))
    errors: list[Any] = []
    ok: list[str] = []
    client.customer(cookie="c").track_enhanced_ecommerce(
        PURCHASE, on_error=errors.append, on_success=lambda: ok.append("ok"), immediate=True)
    assert client.flush(5)
    assert len(errors) == 1 and ok == []
    assert errors[0].command["data"]["properties"]["product_id"] == "P2"


# -- raw commands ----------------------------------------------------------------------------------

def test_send_commands_checks_and_stamps(client: Exponea, exponea_server: ExponeaServer) -> None:
    client.send_commands([
        {"name": "customers/events", "data": {"customer_ids": {"cookie": "c"},
                                              "event_type": "view", "timestamp": 5.5}},
        {"name": "customers", "data": {"customer_ids": {"cookie": "c"},
                                       "properties": {"a": 1}}},
    ])
    assert client.flush(5)
    assert exponea_server.events[0]["timestamp"] == 5.5
    assert exponea_server.customers[0]["update_timestamp"] > 1.7e9
    with pytest.raises(ValueError, match=r"commands\[0\].name"):
        client.send_commands([{"name": "x", "data": {}}])
    with pytest.raises(ValueError, match=r"commands\[0\].data.customer_ids"):
        client.send_commands([{"name": "customers", "data": {"properties": {}}}])


def test_public_token_client_and_reprs(exponea_server: ExponeaServer) -> None:
    with Exponea(exponea_server.project_token, public_token=exponea_server.public_token,
                 base_url=exponea_server.url, **FAST) as client:
        client.customer(cookie="c").track("view")
        assert client.flush(5)
        assert exponea_server.public_token not in repr(client)
    assert exponea_server.requests[0].auth == "public"
    private = Exponea("p", api_key_id="kid", api_secret="top-secret-1")
    assert "top-secret-1" not in repr(private) and "kid" in repr(private)
    private.close(0)
