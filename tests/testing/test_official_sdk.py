"""The official ``exponea-python-sdk`` works against ``ExponeaServer`` (issue 10, finding 7)."""

from __future__ import annotations

import time

import exponea_python_sdk as sdk
import pytest
from exponea_python_sdk.exceptions import APIException

from ga_ee_bridge.testing.server import ExponeaServer


def _client(server: ExponeaServer) -> sdk.Exponea:
    return sdk.Exponea(server.project_token, username=server.api_key_id,
                       password=server.api_secret, url=server.url)


def test_system_time(exponea_server: ExponeaServer) -> None:
    client = _client(exponea_server)
    now = client.tracking.get_system_time()
    assert abs(now - time.time()) < 5


def test_add_event_with_and_without_properties(exponea_server: ExponeaServer) -> None:
    client = _client(exponea_server)
    ids = {"registered": "gordon@example.com"}
    assert client.tracking.add_event(ids, "purchase", {"total_price": 7.99},
                                     timestamp=1_700_000_000) is True
    assert client.tracking.add_event(ids, "visit") is True  # properties and timestamp null
    assert [(e["event_type"], e["properties"]) for e in exponea_server.events] == [
        ("purchase", {"total_price": 7.99}), ("visit", None)]
    assert exponea_server.requests[0].auth == "private"


def test_customer_update(exponea_server: ExponeaServer) -> None:
    client = _client(exponea_server)
    ids = {"registered": "gordon@example.com"}
    assert client.tracking.update_customer_properties(ids, {"first_name": "Gordon"}) is True
    assert exponea_server.customers == [{"customer_ids": ids,
                                         "properties": {"first_name": "Gordon"}}]


def test_batch_with_system_time(exponea_server: ExponeaServer) -> None:
    client = _client(exponea_server)
    ids = {"cookie": "c1"}
    results = client.tracking.batch_commands([
        client.tracking.get_system_time(batch=True),
        client.tracking.add_event(ids, "view", {"n": 1}, batch=True),
        client.tracking.add_event(ids, "view", batch=True),
        client.tracking.update_customer_properties(ids, {"x": 1}, batch=True),
    ])
    assert isinstance(results[0], float) and abs(results[0] - time.time()) < 5
    assert results[1:] == [True, True, True]
    assert len(exponea_server.events) == 2 and len(exponea_server.customers) == 1


def test_a_wrong_project_is_an_sdk_error(exponea_server: ExponeaServer) -> None:
    client = sdk.Exponea("other", username=exponea_server.api_key_id,
                         password=exponea_server.api_secret, url=exponea_server.url)
    with pytest.raises(APIException, match="Invalid project id"):
        client.tracking.get_system_time()
