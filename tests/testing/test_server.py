"""The local Exponea server: auth, body shape, limits, recording and fault injection."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from ga_ee_bridge.testing.server import ExponeaServer, Fault


def _private(server: ExponeaServer) -> dict[str, str]:
    raw = f"{server.api_key_id}:{server.api_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _event(n: int = 0) -> dict:
    return {"name": "customers/events", "data": {
        "customer_ids": {"registered": "a@b.c"}, "event_type": "view", "timestamp": 1.0 + n,
        "properties": {"n": n}}}


def _batch(server: ExponeaServer, commands: list, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/track/v2/projects/{server.project_token}/batch",
                      json={"commands": commands}, headers=headers or _private(server))


def test_batch_accepts_and_records_commands(exponea_server: ExponeaServer) -> None:
    response = _batch(exponea_server, [_event(1), _event(2)])
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["results"] == [{"success": True}] * 2
    assert body["start_time"] <= body["end_time"]
    assert [e["properties"]["n"] for e in exponea_server.events] == [1, 2]
    assert exponea_server.requests[0].auth == "private"


def test_public_token_auth(exponea_server: ExponeaServer) -> None:
    headers = {"Authorization": f"Token {exponea_server.public_token}"}
    assert _batch(exponea_server, [_event()], headers).status_code == 200
    assert exponea_server.requests[0].auth == "public"


@pytest.mark.parametrize("header", [None, "Token wrong", "Basic " + base64.b64encode(
    b"test-key-id:wrong").decode(), "Basic !!!", "Bearer x"])
def test_bad_auth_is_401(exponea_server: ExponeaServer, header: str | None) -> None:
    headers = {"Authorization": header} if header else {"X": "y"}
    response = _batch(exponea_server, [_event()], headers)
    assert response.status_code == 401
    assert response.json()["success"] is False
    assert exponea_server.commands == []


def test_more_than_50_commands_is_400(exponea_server: ExponeaServer) -> None:
    response = _batch(exponea_server, [_event(i) for i in range(51)])
    assert response.status_code == 400
    assert "too many commands" in response.json()["message"].lower()
    assert exponea_server.commands == []
    assert _batch(exponea_server, [_event(i) for i in range(50)]).status_code == 200


def test_bad_command_fails_alone(exponea_server: ExponeaServer) -> None:
    bad = {"name": "customers/events", "data": {"customer_ids": {}, "event_type": "x"}}
    unknown = {"name": "nope", "data": {}}
    response = _batch(exponea_server, [_event(1), bad, unknown])
    results = response.json()["results"]
    assert [r["success"] for r in results] == [True, False, False]
    assert "customer_ids" in results[1]["errors"][0]
    assert len(exponea_server.commands) == 1


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"commands": []}'])
def test_bad_body_is_400(exponea_server: ExponeaServer, body: bytes) -> None:
    url = f"{exponea_server.url}/track/v2/projects/{exponea_server.project_token}/batch"
    assert httpx.post(url, content=body, headers=_private(exponea_server)).status_code == 400


def test_unknown_project_is_400_and_unknown_path_404(exponea_server: ExponeaServer) -> None:
    url = f"{exponea_server.url}/track/v2/projects/other/batch"
    response = httpx.post(url, json={"commands": [_event()]}, headers=_private(exponea_server))
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": "Invalid project id"}
    url = f"{exponea_server.url}/track/v2/projects/{exponea_server.project_token}/nothing"
    assert httpx.post(url, json={}, headers=_private(exponea_server)).status_code == 404


def test_single_command_endpoints(exponea_server: ExponeaServer) -> None:
    base = f"{exponea_server.url}/track/v2/projects/{exponea_server.project_token}"
    headers = _private(exponea_server)
    assert httpx.post(base + "/customers/events", json=_event(3)["data"],
                      headers=headers).status_code == 200
    update = {"customer_ids": {"cookie": "c"}, "properties": {"first_name": "G"}}
    assert httpx.post(base + "/customers", json=update, headers=headers).status_code == 200
    assert httpx.post(base + "/customers", json={"properties": {}},
                      headers=headers).status_code == 400
    assert exponea_server.events[0]["properties"] == {"n": 3}
    assert exponea_server.customers == [update]


def test_anonymize_needs_private_access(exponea_server: ExponeaServer) -> None:
    url = (f"{exponea_server.url}/data/v2/projects/{exponea_server.project_token}"
           "/customers/anonymize")
    body = {"customer_ids": {"registered": "a@b.c"}}
    public = {"Authorization": f"Token {exponea_server.public_token}"}
    assert httpx.post(url, json=body, headers=public).status_code == 403
    assert httpx.post(url, json=body, headers=_private(exponea_server)).status_code == 200
    assert exponea_server.anonymized == [{"registered": "a@b.c"}]


def test_scripted_faults_in_order(exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(status=429, retry_after=2), Fault(status=503), None)
    first = _batch(exponea_server, [_event()])
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert _batch(exponea_server, [_event()]).status_code == 503
    assert _batch(exponea_server, [_event()]).status_code == 200
    assert len(exponea_server.commands) == 1
    assert [r.fault for r in exponea_server.requests] == ["429", "503", "none"]


def test_dropped_connection(exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(drop=True))
    with pytest.raises(httpx.TransportError):
        _batch(exponea_server, [_event()])
    assert exponea_server.commands == []
    assert exponea_server.requests[0].status is None


def test_processed_then_failed_records_the_commands(exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(status=500, process=True), Fault(drop=True, process=True))
    assert _batch(exponea_server, [_event(1)]).status_code == 500
    with pytest.raises(httpx.TransportError):
        _batch(exponea_server, [_event(2)])
    assert [e["properties"]["n"] for e in exponea_server.events] == [1, 2]


def test_delay_and_per_command_rejection(exponea_server: ExponeaServer) -> None:
    exponea_server.script(Fault(delay=0.3, reject=frozenset({1})))
    started = time.monotonic()
    results = _batch(exponea_server, [_event(0), _event(1), _event(2)]).json()["results"]
    assert time.monotonic() - started >= 0.3
    assert [r["success"] for r in results] == [True, False, True]
    assert [e["properties"]["n"] for e in exponea_server.events] == [0, 2]


def test_reject_commands_predicate(exponea_server: ExponeaServer) -> None:
    exponea_server.reject_commands(
        lambda c: "odd" if c["data"]["properties"].get("n", 0) % 2 else None)
    results = _batch(exponea_server, [_event(i) for i in range(4)]).json()["results"]
    assert [r["success"] for r in results] == [True, False, True, False]
    assert results[1]["errors"] == ["odd"]


def test_random_faults_are_seeded() -> None:
    def statuses(seed: int) -> list[int | None]:
        with ExponeaServer() as server, httpx.Client(headers=_private(server)) as client:
            server.random_faults(0.5, [Fault(status=500), Fault(status=429)], seed=seed)
            url = f"{server.url}/track/v2/projects/{server.project_token}/batch"
            return [client.post(url, json={"commands": [_event()]}).status_code
                    for _ in range(30)]

    first = statuses(7)
    assert first == statuses(7)
    assert {500, 429, 200} <= set(first)


def test_reset_and_stop() -> None:
    server = ExponeaServer().start()
    _batch(server, [_event()])
    server.reset()
    assert server.commands == [] and server.requests == []
    url = server.url
    server.stop()
    with pytest.raises(RuntimeError):
        _ = server.url
    with pytest.raises(httpx.TransportError):
        httpx.post(url + "/x", json={})
