"""The Tracking API's documented rules, kept at the call (issue 10, finding 6)."""

from __future__ import annotations

import datetime as dt
import logging
import random
from pathlib import Path
from typing import Any

import pytest

from ga_ee_bridge.core.limits import MAX_MESSAGE_BYTES, MAX_VALUE_BYTES
from ga_ee_bridge.errors import APIError
from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.policy import parse_batch_answer, take_batch
from ga_ee_bridge.send.validation import check_properties, check_timestamp
from ga_ee_bridge.testing.server import ExponeaServer

FAST = {"backoff": 0.005, "max_backoff": 0.05, "flush_interval": 0.02}


def client_for(server: ExponeaServer, **options: Any) -> Exponea:
    return Exponea(server.project_token, api_key_id=server.api_key_id,
                   api_secret=server.api_secret, base_url=server.url, **{**FAST, **options})


@pytest.mark.parametrize(("value", "unit"), [
    (1_700_000_000_123, "milliseconds"), (1.700000000123e12, "milliseconds"),
    (1_700_000_000_123_456, "microseconds"), ("1700000000123", "milliseconds"),
])
def test_milliseconds_and_microseconds_are_refused_saying_so(value: Any, unit: str) -> None:
    with pytest.raises(ValueError, match=rf"^timestamp: .*looks like {unit}.*seconds"):
        check_timestamp(value, "timestamp")


def test_seconds_datetimes_and_iso_text_are_accepted(exponea_server: ExponeaServer) -> None:
    when = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    with client_for(exponea_server) as client:
        visitor = client.customer(cookie="c")
        visitor.track("a", timestamp=1_700_000_000.5)
        visitor.track("b", timestamp=when)
        visitor.track("c", timestamp="2024-03-01T12:00:00Z")
        visitor.track("d", timestamp="2024-03-01T13:00:00+01:00")
        client.send_commands([{"name": "customers/events", "data": {
            "customer_ids": {"cookie": "c"}, "event_type": "e",
            "timestamp": "2024-03-01T12:00:00.250Z"}}])
        assert client.flush(5)
    stamps = {e["event_type"]: e["timestamp"] for e in exponea_server.events}
    assert stamps == {"a": 1_700_000_000.5, "b": when.timestamp(), "c": when.timestamp(),
                      "d": when.timestamp(), "e": when.timestamp() + 0.25}
    assert all(isinstance(v, float) for v in stamps.values())


def test_values_must_be_strictly_less_than_16_kb() -> None:
    assert check_properties({"v": "x" * (MAX_VALUE_BYTES - 1)})
    with pytest.raises(ValueError, match=r"properties\.v: value is 16,384 bytes.*less than"):
        check_properties({"v": "x" * MAX_VALUE_BYTES})
    with pytest.raises(ValueError, match=r"properties\.v: value is"):
        check_properties({"v": ["x" * 5000] * 4})  # as JSON, a list counts whole


def test_a_message_of_800_kb_is_refused_at_the_call(exponea_server: ExponeaServer) -> None:
    big = {f"p{i}": "x" * 16_000 for i in range(52)}  # each value fine, the message not
    with client_for(exponea_server) as client:
        visitor = client.customer(cookie="c")
        with pytest.raises(ValueError, match=r"^command: the message is [\d,]+ bytes.*800 KB"):
            visitor.track("big", big)
        with pytest.raises(ValueError, match=r"commands\[1\]: the message"):
            client.send_commands([{"name": "customers", "data": {"customer_ids": {"c": "1"}}},
                                  {"name": "customers/events", "data": {
                                      "customer_ids": {"c": "1"}, "event_type": "x",
                                      "properties": big}}])
        assert client.queued == 0  # nothing of either call was queued
        just_under = {f"p{i}": "x" * 16_000 for i in range(50)}
        visitor.track("fits", just_under)
        assert client.flush(5)
    assert [e["event_type"] for e in exponea_server.events] == ["fits"]
    assert MAX_MESSAGE_BYTES == 800 * 1024


def test_more_than_255_properties_warn_once_and_are_sent(
        exponea_server: ExponeaServer, caplog: pytest.LogCaptureFixture) -> None:
    with client_for(exponea_server) as client, caplog.at_level(logging.WARNING, "ga_ee_bridge"):
        visitor = client.customer(cookie="c")
        visitor.track("wide", {f"p{i}": i for i in range(300)})
        visitor.track("wide", {f"p{i}": i for i in range(300)})
        assert client.flush(5)
    assert [len(e["properties"]) for e in exponea_server.events] == [300, 300]
    warnings = [r.getMessage() for r in caplog.records if "255" in r.getMessage()]
    assert len(warnings) <= 1  # once per process (an earlier test may have warned already)


def test_every_command_carries_a_unique_command_id(exponea_server: ExponeaServer) -> None:
    with client_for(exponea_server) as client:
        visitor = client.customer(cookie="c")
        for n in range(120):
            visitor.track("view", {"n": n})
        visitor.update({"x": 1})
        client.send_commands([{"name": "customers", "data": {"customer_ids": {"c": "1"}},
                               "command_id": "mine-1"}])
        assert client.flush(5)
    ids = [c.get("command_id") for c in exponea_server.commands]
    assert len(ids) == 122 and all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == 122 and "mine-1" in ids


def test_results_are_matched_by_command_id_whatever_their_order() -> None:
    ids = [f"id-{n}" for n in range(6)]
    results = [{"success": n % 2 == 0, "command_id": f"id-{n}",
                **({} if n % 2 == 0 else {"errors": [f"bad {n}"]})} for n in range(6)]
    random.Random(3).shuffle(results)
    verdicts = parse_batch_answer({"success": True, "results": results}, ids)
    assert [v.success for v in verdicts] == [True, False] * 3
    assert [v.reason for v in verdicts if not v.success] == ['["bad 1"]', '["bad 3"]',
                                                            '["bad 5"]']
    with pytest.raises(APIError, match="do not match") as caught:
        parse_batch_answer({"success": True, "results": [
            *results[:5], {"success": True, "command_id": "other"}]}, ids)
    assert caught.value.retryable


@pytest.mark.parametrize("spooled", [False, True])
def test_a_batch_is_bounded_in_bytes_as_well_as_in_commands(
        exponea_server: ExponeaServer, tmp_path: Path, spooled: bool) -> None:
    assert take_batch([100] * 80) == 50
    assert take_batch([400, 400, 400], max_bytes=1000) == 2
    assert take_batch([5000], max_bytes=1000) == 1  # one command always goes
    chunk = {f"p{i}": "y" * 13_000 for i in range(8)}  # ~104 KB a command
    spool = {"spool": tmp_path / "b.db"} if spooled else {}
    with client_for(exponea_server, max_batch_bytes=300_000, flush_interval=1.0,
                    **spool) as client:
        visitor = client.customer(cookie="c")
        for n in range(5):
            visitor.track("big", {**chunk, "n": n})
        assert client.flush(10)
    assert [r.commands for r in exponea_server.requests] == [2, 2, 1]
    assert sorted(e["properties"]["n"] for e in exponea_server.events) == list(range(5))
