"""``ExponeaServer`` keeps the Tracking API's documented contract, point by point (issue 10, #7)."""

from __future__ import annotations

import logging

import httpx
import pytest
from test_server import _batch, _event, _private

from ga_ee_bridge.testing.server import ExponeaServer


def _base(server: ExponeaServer) -> str:
    return f"{server.url}/track/v2/projects/{server.project_token}"


def test_a_post_needs_json_content_type(exponea_server: ExponeaServer) -> None:
    body = b'{"commands": [{"name": "system/time"}]}'
    headers = {**_private(exponea_server), "Content-Type": "text/plain"}
    response = httpx.post(_base(exponea_server) + "/batch", content=body, headers=headers)
    assert response.status_code == 400 and "Content-Type" in response.json()["message"]
    headers["Content-Type"] = "application/json; charset=utf-8"
    assert httpx.post(_base(exponea_server) + "/batch", content=body,
                      headers=headers).status_code == 200


def test_system_time_by_get_and_as_a_batch_command(exponea_server: ExponeaServer) -> None:
    response = httpx.get(_base(exponea_server) + "/system/time",
                         headers=_private(exponea_server))
    assert response.status_code == 200
    assert response.json()["success"] is True and response.json()["time"] > 1.7e9
    results = _batch(exponea_server, [{"name": "system/time"}, _event(1)]).json()["results"]
    assert results[0]["success"] is True and results[0]["time"] > 1.7e9
    assert results[1] == {"success": True}
    assert len(exponea_server.commands) == 1  # system/time is not a recorded command


def test_null_properties_and_iso_timestamps_are_accepted(exponea_server: ExponeaServer) -> None:
    event = {"customer_ids": {"cookie": "c"}, "event_type": "view", "properties": None,
             "timestamp": "2024-03-01T12:00:00Z"}
    response = httpx.post(_base(exponea_server) + "/customers/events", json=event,
                          headers=_private(exponea_server))
    assert response.status_code == 200, response.text
    results = _batch(exponea_server, [{"name": "customers", "data": {
        "customer_ids": {"cookie": "c"}, "properties": None}}]).json()["results"]
    assert results == [{"success": True}]
    bad = _batch(exponea_server, [{"name": "customers/events", "data": {
        **event, "timestamp": "yesterday"}}]).json()["results"]
    assert bad[0]["success"] is False and "ISO 8601" in bad[0]["errors"][0]


@pytest.mark.parametrize(("header", "status"), [(None, 401), ("Basic", 401), ("Basic !!!", 401)])
def test_missing_or_malformed_auth_is_access_key_not_provided(
        exponea_server: ExponeaServer, header: str | None, status: int) -> None:
    headers = {"Authorization": header} if header else {}
    response = _batch(exponea_server, [_event()], headers or {"X": "1"})
    assert response.status_code == status
    assert "Access key not provided" in response.text


@pytest.mark.parametrize(("commands", "message"), [
    ([], "No commands"), ([_event(), 5], "Invalid JSON"), ([_event(), "x"], "Invalid JSON"),
])
def test_batch_level_errors_carry_message_and_fail_the_whole_request(
        exponea_server: ExponeaServer, commands: list, message: str) -> None:
    response = _batch(exponea_server, commands)
    assert response.status_code == 400
    assert response.json() == {"success": False, "message": message}
    assert exponea_server.commands == []  # the good command of the request was not kept


def test_query_strings_are_accepted(exponea_server: ExponeaServer) -> None:
    url = _base(exponea_server) + "/batch?access_token=ignored&x=1"
    response = httpx.post(url, json={"commands": [_event()]}, headers=_private(exponea_server))
    assert response.status_code == 200
    assert len(exponea_server.events) == 1


def test_command_id_is_echoed_and_recorded(exponea_server: ExponeaServer) -> None:
    bad = {"name": "customers/events", "data": {"customer_ids": {}}, "command_id": "b"}
    results = _batch(exponea_server, [{**_event(1), "command_id": "a"}, bad,
                                      {"name": "system/time", "command_id": "t"}, _event(2)]
                     ).json()["results"]
    assert [r.get("command_id") for r in results] == ["a", "b", "t", None]
    assert [r["success"] for r in results] == [True, False, True, True]
    assert [c.get("command_id") for c in exponea_server.commands] == ["a", None]


def test_size_limits_are_enforced(exponea_server: ExponeaServer) -> None:
    def event(**properties: object) -> dict:
        return {"name": "customers/events", "data": {
            "customer_ids": {"cookie": "c"}, "event_type": "v", "properties": properties}}

    results = _batch(exponea_server, [
        event(v="x" * 16383), event(v="x" * 16384),
        event(**{f"p{i}": "x" * 16000 for i in range(52)}),
    ]).json()["results"]
    assert [r["success"] for r in results] == [True, False, False]
    assert "16384" in results[1]["errors"][0] and "message too large" in results[2]["errors"][0]


def test_history_is_bounded_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with ExponeaServer(history_limit=5) as server, caplog.at_level(logging.WARNING):
        for n in range(4):
            _batch(server, [_event(2 * n), _event(2 * n + 1)])
        assert [e["properties"]["n"] for e in server.events] == [3, 4, 5, 6, 7]
        assert server.dropped == 3 + 0  # 8 commands, 4 requests: 3 commands dropped
        assert len(server.requests) == 4
    assert sum("history_limit" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(ValueError):
        ExponeaServer(history_limit=0)
