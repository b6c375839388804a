"""One HTTP call: auth header, results per command, error classification, no secret shown."""

from __future__ import annotations

import email.utils
import time

import pytest

from ga_ee_bridge.send.request import APIError, Credentials, TrackingAPI, parse_retry_after
from ga_ee_bridge.testing.server import ExponeaServer, Fault

SECRET = "s3cr3t-value-never-shown"


def _event(n: int = 0) -> dict:
    return {"name": "customers/events", "data": {
        "customer_ids": {"cookie": "c1"}, "event_type": "view", "timestamp": 10.0 + n,
        "properties": {"n": n}}}


@pytest.fixture
def server() -> ExponeaServer:
    with ExponeaServer(api_secret=SECRET) as running:
        yield running


@pytest.fixture
def api(server: ExponeaServer) -> TrackingAPI:
    client = TrackingAPI(server.project_token,
                         Credentials(api_key_id=server.api_key_id, api_secret=SECRET),
                         base_url=server.url, timeout=0.5)
    yield client
    client.close()


def test_credentials_need_a_complete_pair() -> None:
    with pytest.raises(ValueError, match="both"):
        Credentials(api_key_id="k")
    with pytest.raises(ValueError, match="not both"):
        Credentials(api_key_id="k", api_secret="s", public_token="t")
    with pytest.raises(ValueError, match="credentials needed"):
        Credentials()


def test_secret_never_in_reprs(api: TrackingAPI) -> None:
    for text in (repr(api.credentials), repr(api), str(api.credentials)):
        assert SECRET not in text
        assert api.credentials.header.split()[1] not in text
    assert "test-key-id" in repr(api.credentials)
    assert SECRET not in repr(Credentials(public_token=SECRET))


def test_batch_results_per_command(api: TrackingAPI, server: ExponeaServer) -> None:
    server.script(Fault(reject=frozenset({1})))
    results = api.batch([_event(0), _event(1)])
    assert [r.success for r in results] == [True, False]
    assert "rejected" in results[1].reason
    assert server.events[0]["properties"] == {"n": 0}


def test_public_token(server: ExponeaServer) -> None:
    api = TrackingAPI(server.project_token, Credentials(public_token=server.public_token),
                      base_url=server.url)
    assert api.batch([_event()])[0].success
    assert server.requests[0].auth == "public"
    with pytest.raises(APIError, match="private access"):
        api.anonymize({"cookie": "c1"})


@pytest.mark.parametrize(("fault", "status", "retryable"), [
    (Fault(status=429, retry_after=3), 429, True),
    (Fault(status=500), 500, True),
    (Fault(status=503), 503, True),
    (Fault(status=400), 400, False),
    (Fault(status=401), 401, False),
    (Fault(status=404), 404, False),
    (Fault(drop=True), None, True),
    (Fault(delay=1.0), None, True),  # longer than the 0.5 s timeout
])
def test_error_classification(api: TrackingAPI, server: ExponeaServer, fault: Fault,
                              status: int | None, retryable: bool) -> None:
    server.script(fault)
    with pytest.raises(APIError) as caught:
        api.batch([_event()])
    assert caught.value.status == status
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == fault.retry_after
    assert SECRET not in str(caught.value)


def test_wrong_secret_is_401_not_retryable(server: ExponeaServer) -> None:
    api = TrackingAPI(server.project_token, Credentials(api_key_id="k", api_secret="wrong"),
                      base_url=server.url)
    with pytest.raises(APIError) as caught:
        api.batch([_event()])
    assert (caught.value.status, caught.value.retryable) == (401, False)
    assert "wrong" not in str(caught.value)


def test_batch_refused_with_200_and_wrong_result_count(api: TrackingAPI,
                                                       server: ExponeaServer) -> None:
    server.script(Fault(status=200, body={"success": False, "errors": ["nope"]}),
                  Fault(status=200, body={"success": True, "results": []}))
    with pytest.raises(APIError, match="nope") as refused:
        api.batch([_event()])
    assert not refused.value.retryable
    with pytest.raises(APIError, match="one result per command") as short:
        api.batch([_event()])
    assert short.value.retryable


def test_connections_are_reused(api: TrackingAPI, server: ExponeaServer) -> None:
    for n in range(5):
        api.batch([_event(n)])
    # One keep-alive connection: the pool holds exactly one after five calls.
    pool = api._client._transport._pool  # type: ignore[attr-defined]
    assert len(pool.connections) == 1


def test_anonymize(api: TrackingAPI, server: ExponeaServer) -> None:
    api.anonymize({"registered": "a@b.c"})
    assert server.anonymized == [{"registered": "a@b.c"}]


def test_parse_retry_after() -> None:
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 31


def test_new_clients_reuse_the_one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loading the CA bundle costs 40-60 ms: it is done once a process, not per client (or per
    # forked child's new client). httpx makes a context with ssl.create_default_context.
    import ssl

    from ga_ee_bridge.send.async_request import AsyncTrackingAPI
    from ga_ee_bridge.send.request import tls_context

    shared = tls_context()
    made: list[object] = []
    real = ssl.create_default_context

    def counted(*args: object, **kwargs: object) -> ssl.SSLContext:
        made.append((args, kwargs))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    api = TrackingAPI("p", Credentials(public_token="t"))
    api.reset_after_fork()
    api.close()
    AsyncTrackingAPI("p", Credentials(public_token="t"))
    assert made == []
    assert tls_context() is shared
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname  # still verifies


def test_a_forked_child_makes_its_own_tls_context() -> None:
    # A real fork, with the context's lock held at that moment (as a thread making the first
    # client would): the child neither inherits the parent's context nor its held lock.
    import os
    import signal

    from ga_ee_bridge.send import request

    parent = request.tls_context()
    read, write = os.pipe()
    with request._TLS_LOCK:
        pid = os.fork()
        if pid == 0:  # the child
            signal.alarm(10)  # a lock left held would hang it: this ends it instead
            try:
                child = request.tls_context()
                same = request.tls_context() is child
                os.write(write, b"own" if child is not parent and same else b"shared")
            finally:
                os._exit(0)
    os.close(write)
    got = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert got == b"own"
    assert request.tls_context() is parent
