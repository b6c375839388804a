"""TrackEvent and the Tracking API commands built from it."""

import math

import pytest

from ga_ee_bridge import TrackEvent


def test_event_is_immutable_and_copies_properties():
    source = {"price": 1.0}
    event = TrackEvent("product_detail", source)
    source["price"] = 2.0
    assert event.properties["price"] == 1.0
    with pytest.raises(TypeError):
        event.properties["price"] = 3.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        event.event_type = "other"  # type: ignore[misc]


def test_command_uses_the_event_timestamp_unless_overridden():
    event = TrackEvent("purchase", {"total_price": 7.99}, timestamp=100)
    assert event.to_command({"cookie": "c"})["data"]["timestamp"] == 100.0
    assert event.to_command({"cookie": "c"}, timestamp=200.5)["data"]["timestamp"] == 200.5
    assert "timestamp" not in TrackEvent("purchase").to_command({"cookie": "c"})["data"]


def test_command_copies_ids_and_properties():
    event = TrackEvent("purchase", {"a": 1})
    command = event.to_command({"registered": "x@example.com"})
    command["data"]["properties"]["a"] = 2
    assert event.properties["a"] == 1


@pytest.mark.parametrize("ids", [{}, {"registered": ""}, {"registered": None}, {"": "x"}, []])
def test_bad_customer_ids_are_refused(ids):
    with pytest.raises(ValueError, match="customer"):
        TrackEvent("purchase").to_command(ids)


@pytest.mark.parametrize("timestamp", [math.nan, math.inf, -1, "1700000000", True])
def test_bad_timestamps_are_refused(timestamp):
    with pytest.raises(ValueError, match="timestamp"):
        TrackEvent("purchase", timestamp=timestamp)


def test_event_type_must_be_named():
    with pytest.raises(ValueError, match="event_type"):
        TrackEvent("")


def test_with_timestamp_returns_a_copy():
    event = TrackEvent("purchase", {"a": 1})
    later = event.with_timestamp(5)
    assert (event.timestamp, later.timestamp, later.properties) == (None, 5.0, event.properties)


def test_customer_command_is_what_identify_and_update_send():
    from ga_ee_bridge.core.events import customer_command

    assert customer_command({"registered": "a@example.com"}, {"tier": "gold"},
                            timestamp=1_709_294_400) == {
        "name": "customers", "data": {"customer_ids": {"registered": "a@example.com"},
                                      "update_timestamp": 1_709_294_400.0,
                                      "properties": {"tier": "gold"}}}
    assert "update_timestamp" not in customer_command({"cookie": "c"}, {})["data"]
    with pytest.raises(ValueError, match="customer_ids"):
        customer_command({}, {"tier": "gold"})
    with pytest.raises(ValueError, match="timestamp"):
        customer_command({"cookie": "c"}, {}, timestamp=-1)
