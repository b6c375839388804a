"""One HTTP call to the Exponea APIs: the batch endpoint and the GDPR anonymize call.

:class:`TrackingAPI` owns an :class:`httpx.Client` (connection reuse, timeouts) and the
``Authorization`` header; it knows nothing about queues or retries. Failures become
:class:`APIError` with ``retryable`` set the way the Exponea docs advise: network errors, 429
and 5xx are worth retrying, other 4xx and 200-with-``success: false`` are not. The API secret
never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import math
import os
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

import httpx

from ga_ee_bridge.errors import APIError
from ga_ee_bridge.send.policy import (
    CommandResult,
    batch_body,
    encode_command,
    parse_batch_answer,
    shorten,
)

__all__ = ["APIBase", "APIError", "CommandResult", "Credentials", "TrackingAPI", "anonymize_path",
           "batch_path", "batch_request", "batch_results", "check_anonymized",
           "check_can_anonymize", "check_response", "encode_body", "network_error",
           "request_headers", "tls_context"]

logger = logging.getLogger("ga_ee_bridge.send.request")

DEFAULT_BASE_URL = "https://api.exponea.com"

TransportT = TypeVar("TransportT")
ClientT = TypeVar("ClientT")


class Credentials:
    """Public (``Token``) or private (``Basic`` key id + secret) access; never shows the secret."""

    __slots__ = ("_header", "api_key_id", "kind")

    def __init__(self, *, api_key_id: str | None = None, api_secret: str | None = None,
                 public_token: str | None = None) -> None:
        if api_key_id is not None or api_secret is not None:
            if not api_key_id or not api_secret:
                raise ValueError("private access needs both api_key_id and api_secret")
            if public_token is not None:
                raise ValueError("give either api_key_id/api_secret or public_token, not both")
            raw = f"{api_key_id}:{api_secret}".encode()
            self._header = "Basic " + base64.b64encode(raw).decode("ascii")
            self.kind = "private"
            self.api_key_id: str | None = api_key_id
        elif public_token:
            self._header = f"Token {public_token}"
            self.kind = "public"
            self.api_key_id = None
        else:
            raise ValueError("credentials needed: api_key_id and api_secret, or public_token")

    @property
    def header(self) -> str:
        """The ``Authorization`` header value (contains the secret: never log it)."""
        return self._header

    def __repr__(self) -> str:
        if self.kind == "private":
            return f"Credentials(kind='private', api_key_id={self.api_key_id!r}, api_secret='***')"
        return "Credentials(kind='public', public_token='***')"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return shorten(response.text) if response.text else response.reason_phrase
    if isinstance(body, dict):
        for key in ("errors", "error", "message"):
            if body.get(key):
                return shorten(body[key])
    return shorten(body)


def request_headers(credentials: Credentials) -> dict[str, str]:
    """The headers of every call (``Authorization`` holds the secret: never log them)."""
    return {
        "Authorization": credentials.header,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "ga-ee-bridge",
    }


_TLS: dict[int, ssl.SSLContext] = {}  # process id -> its context
_TLS_LOCK = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """The TLS settings every client of this process shares: httpx's defaults (certifi's CA
    bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as set when the process's first client is
    made).

    Made once a process: loading the CA bundle costs 40-60 ms of CPU, which each new client
    would otherwise pay again. A forked child makes its own: OpenSSL locks inside a context
    that another thread held at the fork would stay locked in the child.
    """
    pid = os.getpid()
    with _TLS_LOCK:
        context = _TLS.get(pid)
        if context is None:
            _TLS.clear()
            context = _TLS[pid] = httpx.create_ssl_context()
        return context


def _tls_after_fork() -> None:
    global _TLS_LOCK
    _TLS_LOCK = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_tls_after_fork)


def encode_body(body: Mapping[str, Any] | bytes) -> bytes:
    """A request body as compact UTF-8 JSON (NaN and infinity refused); bytes pass as they are."""
    if isinstance(body, bytes):
        return body
    return encode_command(body)[0].encode()


def batch_request(commands: Sequence[Mapping[str, Any] | str],
                  command_ids: Sequence[str | None] | None = None
                  ) -> tuple[bytes, list[str | None]]:
    """A batch request's body and the ``command_id`` of each command (mappings or encoded text).

    Without ``command_ids``, each mapping's own ``command_id`` is used (text gives None).
    """
    texts = [c if isinstance(c, str) else encode_command(c)[0] for c in commands]
    if command_ids is None:
        command_ids = [None if isinstance(c, str) else c.get("command_id") for c in commands]
    return batch_body(texts), list(command_ids)


def network_error(error: httpx.TransportError) -> APIError:
    """The retryable :class:`APIError` for a network failure."""
    # str(error) carries at most the URL; headers (and the secret) never.
    return APIError(f"network error: {type(error).__name__}: {error}", retryable=True)


def check_response(response: httpx.Response) -> httpx.Response:
    """``response`` if it is a 200, else raise :class:`APIError` (408, 429 and 5xx retryable)."""
    if response.status_code == 200:
        return response
    status = response.status_code
    retryable = status in (408, 429) or status >= 500
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    raise APIError(f"HTTP {status}: {_error_text(response)}", status=status,
                   retryable=retryable, retry_after=retry_after)


def batch_results(response: httpx.Response, command_ids: Sequence[str | None]
                  ) -> list[CommandResult]:
    """The batch endpoint's 200 answer: one result per command sent, matched by ``command_id``."""
    try:
        body = response.json()
    except ValueError:
        raise APIError("HTTP 200 with a body that is not JSON", status=200,
                       retryable=True) from None
    return parse_batch_answer(body, command_ids)


def check_anonymized(response: httpx.Response) -> None:
    """Raise :class:`APIError` if the data API's 200 answer to an anonymize call says no."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("success") is False:
        raise APIError(f"request refused: {shorten(body)}", status=200)


def check_can_anonymize(credentials: Credentials) -> None:
    """Raise :class:`APIError` unless ``credentials`` give the private access the data API needs."""
    if credentials.kind != "private":
        raise APIError("anonymizing a customer needs private access (api_key_id/api_secret)")


def batch_path(project_token: str) -> str:
    """The Tracking API's batch endpoint of a project."""
    return f"/track/v2/projects/{project_token}/batch"


def anonymize_path(project_token: str) -> str:
    """The data API's GDPR anonymize endpoint of a project."""
    return f"/data/v2/projects/{project_token}/customers/anonymize"


class APIBase(Generic[TransportT, ClientT]):
    """What both API classes hold: the project, credentials, base URL, timeout, connection pool."""

    def __init__(
        self,
        project_token: str,
        credentials: Credentials,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        transport: TransportT | None = None,
    ) -> None:
        if not project_token or not isinstance(project_token, str):
            raise ValueError(f"project_token must be a non-empty string, got {project_token!r}")
        self.project_token = project_token
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._transport = transport
        self._client = self._new_client()

    def _new_client(self) -> ClientT:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(project_token={self.project_token!r}, "
                f"base_url={self.base_url!r}, auth={self.credentials.kind!r})")

    def reset_after_fork(self) -> None:
        """Give a forked child its own connection pool (the parent's sockets are left alone)."""
        self._client = self._new_client()


class TrackingAPI(APIBase[httpx.BaseTransport, httpx.Client]):
    """Calls to one Exponea project: :meth:`batch` (Tracking API), :meth:`anonymize` (data API)."""

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            headers=request_headers(self.credentials),
            transport=self._transport,
            verify=tls_context(),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _post(self, path: str, body: Mapping[str, Any] | bytes) -> httpx.Response:
        try:
            response = self._client.post(self.base_url + path, content=encode_body(body))
        except httpx.TransportError as error:
            raise network_error(error) from None
        return check_response(response)

    def batch(self, commands: Sequence[Mapping[str, Any] | str], *,
              command_ids: Sequence[str | None] | None = None) -> list[CommandResult]:
        """POST up to 50 commands to the batch endpoint; one :class:`CommandResult` per command.

        Commands are mappings or JSON text already encoded (:func:`~.policy.encode_command`, what
        the senders do, so that a resend is byte-identical). Results are matched to the commands
        by ``command_id`` (read from the mappings, or given as ``command_ids``).
        """
        body, ids = batch_request(commands, command_ids)
        return batch_results(self._post(batch_path(self.project_token), body), ids)

    def anonymize(self, customer_ids: Mapping[str, Any]) -> None:
        """POST the GDPR anonymization of one customer to the data API (private access only)."""
        check_can_anonymize(self.credentials)
        response = self._post(anonymize_path(self.project_token),
                              {"customer_ids": dict(customer_ids)})
        check_anonymized(response)
