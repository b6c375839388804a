"""A local Exponea-compatible Tracking API server for tests (yours and ours).

:class:`ExponeaServer` is a real HTTP server on 127.0.0.1 (a thread running
:class:`http.server.ThreadingHTTPServer`). It implements the calls a server-side client makes:

- ``POST /track/v2/projects/{token}/batch`` (at most 50 commands, one result per command, each
  echoing its ``command_id``; ``start_time`` and ``end_time``; ``{"name": "system/time"}``
  answers the time),
- ``POST /track/v2/projects/{token}/customers/events`` and ``.../customers``,
- ``GET /track/v2/projects/{token}/system/time`` (``{"success": true, "time": seconds}``),
- ``POST /data/v2/projects/{token}/customers/anonymize`` (private access only),

and follows the documented contract: a POST needs ``Content-Type: application/json``; a missing
or malformed ``Authorization`` is 401 "Access key not provided"; a wrong project token is 400
``{"error": "Invalid project id"}``; batch-level failures are 400 with a ``message`` ("No
commands", "Invalid JSON" when a command is not an object: the whole request fails); query strings
are ignored; ``properties: null`` is no properties; timestamps are numbers (read as seconds: like
the API, it does not detect milliseconds) or ISO 8601 text; a message of 800 KB or more, or a value
of 16 KB or more, is refused. It records what it accepted, keeping the latest ``history_limit``
commands and requests (default 100,000 each; older ones are dropped, counted in
:attr:`ExponeaServer.dropped`, with one WARNING). Faults are injected on demand, either scripted per
request (:meth:`ExponeaServer.script`) or at random with a seeded generator
(:meth:`ExponeaServer.random_faults`); commands can be refused one by one
(:meth:`ExponeaServer.reject_commands`).

Use it as a context manager (``with ExponeaServer() as server:``, then give a client
``server.url`` and the credentials it holds) or, in pytest, take the ``exponea_server`` fixture
(the plugin is registered when the ``testing`` extra is installed).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from ga_ee_bridge.core.limits import MAX_BATCH_COMMANDS, MAX_MESSAGE_BYTES, MAX_VALUE_BYTES
from ga_ee_bridge.core.timestamps import to_micros
from ga_ee_bridge.errors import TimestampError

__all__ = ["HISTORY_LIMIT", "MAX_BATCH_COMMANDS", "ExponeaServer", "Fault", "RecordedRequest"]

logger = logging.getLogger("ga_ee_bridge.testing.server")

#: Commands (and, separately, requests) the server remembers by default; older ones are dropped.
HISTORY_LIMIT = 100_000

_PATH = re.compile(
    r"^/(?P<api>track|data)/v2/projects/(?P<token>[^/]+)/"
    r"(?P<call>batch|customers/events|customers|customers/anonymize|system/time)/?$"
)
_TRACK_CALLS = {"batch", "customers/events", "customers", "system/time"}
_COMMAND_NAMES = {"customers/events", "customers"}
_SYSTEM_TIME = "system/time"


@dataclass(frozen=True)
class Fault:
    """What goes wrong with one request.

    - ``status``: answer with this HTTP status instead of processing normally (e.g. 429, 500, 503,
      400, 401); ``retry_after`` adds a ``Retry-After`` header (seconds).
    - ``drop``: close the connection without any answer (the client sees a network error).
    - ``delay``: seconds to wait before answering (alone: a slow but successful answer).
    - ``process``: with ``status`` or ``drop``, accept and record the commands *before* failing,
      like a server that did the work but whose answer got lost; a retry then makes duplicates.
    - ``reject``: indexes of batch commands to refuse with ``success: false`` (the rest pass).
    """

    status: int | None = None
    retry_after: float | None = None
    drop: bool = False
    delay: float = 0.0
    process: bool = False
    reject: frozenset[int] = frozenset()
    body: Mapping[str, Any] | None = None

    def describe(self) -> str:
        """A short label for logs and request records."""
        if self.drop:
            return "drop"
        if self.status is not None:
            return str(self.status)
        if self.reject:
            return "reject"
        return "delay" if self.delay else "none"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server saw: path, auth kind, answer status (None when dropped), fault.

    ``commands`` counts the commands it accepted; ``at`` is ``time.monotonic()`` on arrival.
    """

    path: str
    auth: str | None
    status: int | None
    commands: int
    fault: str | None
    at: float = 0.0


@dataclass
class _State:
    limit: int = HISTORY_LIMIT
    commands: deque[dict[str, Any]] = field(default_factory=deque)
    anonymized: list[dict[str, Any]] = field(default_factory=list)
    requests: deque[RecordedRequest] = field(default_factory=deque)
    dropped: int = 0
    script: deque[Fault] = field(default_factory=deque)
    rate: float = 0.0
    choices: tuple[Fault, ...] = ()
    rng: random.Random = field(default_factory=random.Random)
    rejectors: list[Callable[[Mapping[str, Any]], str | None]] = field(default_factory=list)


class _Rejected(Exception):
    def __init__(self, status: int, message: str, *, key: str = "errors") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key = key

    def body(self) -> dict[str, Any]:
        return {"success": False,
                self.key: [self.message] if self.key == "errors" else self.message}


class ExponeaServer:
    """A real Exponea-compatible Tracking API server on loopback; see the module docstring.

    Credentials default to fixed test values; read them from the attributes. Thread-safe: requests
    are served in threads while the test reads :attr:`commands`, :attr:`events` and friends.
    """

    def __init__(
        self,
        *,
        project_token: str = "test-project",
        public_token: str = "test-public-token",
        api_key_id: str = "test-key-id",
        api_secret: str = "test-secret",
        host: str = "127.0.0.1",
        port: int = 0,
        max_commands: int = MAX_BATCH_COMMANDS,
        history_limit: int = HISTORY_LIMIT,
    ) -> None:
        self.project_token = project_token
        self.public_token = public_token
        self.api_key_id = api_key_id
        self.api_secret = api_secret
        self.max_commands = max_commands
        if history_limit < 1:
            raise ValueError(f"history_limit must be positive, got {history_limit!r}")
        self.history_limit = history_limit
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._state = _State(limit=history_limit)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"ExponeaServer(url={self.url if self._httpd else None!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ExponeaServer:
        """Start serving in a background thread; returns self."""
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"app": self})
        httpd = _HTTPServer((self._host, self._port), handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="exponea-test-server", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ExponeaServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give a client, e.g. ``http://127.0.0.1:54321``."""
        if self._httpd is None:
            raise RuntimeError("the server is not running; call start() or use it as a context")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- faults ------------------------------------------------------------------------------

    def script(self, *faults: Fault | None) -> None:
        """Queue faults for the next requests, one per request, in order (``None``: no fault)."""
        with self._lock:
            self._state.script.extend(f if f is not None else Fault() for f in faults)

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``Retry-After`` if given)."""
        self.script(*[Fault(status=status, retry_after=retry_after)] * times)

    def random_faults(
        self, rate: float, faults: Iterable[Fault] | None = None, *, seed: int = 0
    ) -> None:
        """Fail each request with probability ``rate``, picking a fault from ``faults``.

        Scripted faults go first. The generator is seeded, so a run is reproducible as long as the
        requests arrive in the same order. ``rate=0`` switches random faults off.
        """
        choices = tuple(faults) if faults is not None else (
            Fault(status=429, retry_after=0.01), Fault(status=500), Fault(status=503),
            Fault(drop=True),
        )
        if not 0.0 <= rate <= 1.0 or (rate and not choices):
            raise ValueError(f"rate must be in [0, 1] with at least one fault, got {rate!r}")
        with self._lock:
            self._state.rate = rate
            self._state.choices = choices
            self._state.rng = random.Random(seed)

    def reject_commands(self, predicate: Callable[[Mapping[str, Any]], str | None]) -> None:
        """Refuse every command for which ``predicate(command)`` returns an error message.

        A refused command gets ``{"success": false, "errors": [message]}`` in its batch result (or a
        400 on the single-command endpoints) and is not recorded.
        """
        with self._lock:
            self._state.rejectors.append(predicate)

    def reset(self) -> None:
        """Forget recorded requests and commands, scripted and random faults, and rejections."""
        with self._lock:
            self._state = _State(limit=self.history_limit)

    # -- what was accepted -------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Commands and requests forgotten because more than ``history_limit`` were recorded."""
        with self._lock:
            return self._state.dropped

    @property
    def commands(self) -> list[dict[str, Any]]:
        """Every accepted command as ``{"name": ..., "data": ...}`` (and its ``command_id`` when
        it had one), in the order accepted: the latest ``history_limit`` of them."""
        with self._lock:
            return list(self._state.commands)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The ``data`` of every accepted event (``customers/events``), duplicates included."""
        return [c["data"] for c in self.commands if c["name"] == "customers/events"]

    @property
    def customers(self) -> list[dict[str, Any]]:
        """The ``data`` of every accepted customer update (``customers``)."""
        return [c["data"] for c in self.commands if c["name"] == "customers"]

    @property
    def anonymized(self) -> list[dict[str, Any]]:
        """The ``customer_ids`` of every accepted GDPR anonymization call."""
        with self._lock:
            return list(self._state.anonymized)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request the server saw, faults included."""
        with self._lock:
            return list(self._state.requests)

    # -- request handling (called from the handler threads) ----------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            state = self._state
            if state.script:
                return state.script.popleft()
            if state.rate and state.rng.random() < state.rate:
                return state.rng.choice(state.choices)
            return None

    def _record(self, request: RecordedRequest, commands: list[dict[str, Any]],
                anonymized: dict[str, Any] | None) -> None:
        with self._lock:
            state = self._state
            state.requests.append(request)
            state.commands.extend(commands)
            if anonymized is not None:
                state.anonymized.append(anonymized)
            over = max(0, len(state.commands) - state.limit) + max(
                0, len(state.requests) - state.limit)
            if over:
                if not state.dropped:
                    logger.warning("ExponeaServer: more than %d commands or requests recorded; "
                                   "the oldest are dropped (history_limit)", state.limit)
                state.dropped += over
                while len(state.commands) > state.limit:
                    state.commands.popleft()
                while len(state.requests) > state.limit:
                    state.requests.popleft()

    def _rejection(self, command: Mapping[str, Any]) -> str | None:
        with self._lock:
            rejectors = list(self._state.rejectors)
        for predicate in rejectors:
            message = predicate(command)
            if message:
                return message
        return None

    def _auth_kind(self, header: str | None) -> str | None:
        """Return "public" or "private" for valid credentials, raise _Rejected(401) otherwise."""
        if not header or " " not in header.strip():
            raise _Rejected(401, "Access key not provided")
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "token" and value.strip() == self.public_token:
            return "public"
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise _Rejected(401, "Access key not provided") from None
            if decoded == f"{self.api_key_id}:{self.api_secret}":
                return "private"
        raise _Rejected(401, "invalid credentials")


def _check_command_data(name: str, data: Any, *, sized: bool) -> str | None:
    """Return an error message when ``data`` is not a valid body for command ``name``.

    ``sized``: check the size rules (skipped when the whole request is too small to break them).
    """
    if not isinstance(data, dict):
        return "data must be an object"
    ids = data.get("customer_ids")
    if not isinstance(ids, dict) or not ids:
        return "customer_ids must be a non-empty object"
    for key, value in ids.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            return f"customer_ids.{key} must be a non-empty string or number"
    props = data.get("properties")
    if props is not None and not isinstance(props, dict):
        return "properties must be an object"
    if name == "customers/events":
        event_type = data.get("event_type")
        if not isinstance(event_type, str) or not event_type:
            return "event_type must be a non-empty string"
        stamp = data.get("timestamp")
    else:
        stamp = data.get("update_timestamp")
    if stamp is not None:
        error = _stamp_error(stamp)
        if error:
            return error
    if sized:
        size = len(json.dumps(data, ensure_ascii=False).encode())
        if size >= MAX_MESSAGE_BYTES:
            return f"message too large: {size} bytes (must be less than {MAX_MESSAGE_BYTES})"
        for key, value in (props or {}).items():
            value_size = (len(value.encode()) if isinstance(value, str)
                          else len(json.dumps(value, ensure_ascii=False).encode()))
            if value_size >= MAX_VALUE_BYTES:
                return (f"property {key} too large: {value_size} bytes (must be less than "
                        f"{MAX_VALUE_BYTES})")
    return None


def _stamp_error(stamp: Any) -> str | None:
    if isinstance(stamp, bool):
        return "timestamp must be a number (Unix seconds) or ISO 8601 text"
    if isinstance(stamp, int | float):
        return None  # read as seconds, whatever the magnitude (as the API does)
    if isinstance(stamp, str):
        try:
            float(stamp)
        except ValueError:
            try:
                to_micros(stamp)
            except TimestampError:
                return "timestamp must be a number (Unix seconds) or ISO 8601 text"
            return None
    return "timestamp must be a number (Unix seconds) or ISO 8601 text"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or went away mid-answer is normal here; no traceback on stderr.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    app: ExponeaServer
    _auth: str | None = None
    protocol_version = "HTTP/1.1"
    server_version = "ExponeaTestServer/1"
    disable_nagle_algorithm = True
    wbufsize = -1  # headers and body leave in one write (flushed after each request)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] = {}) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _route(self) -> tuple[str, str]:
        """(api, call) of the request path (query string ignored), auth and project checked."""
        match = _PATH.match(self.path.partition("?")[0])
        if match is None:
            raise _Rejected(404, f"no such endpoint: {self.path.partition('?')[0]}")
        self._auth = self.app._auth_kind(self.headers.get("Authorization"))
        if match["token"] != self.app.project_token:
            raise _Rejected(400, "Invalid project id", key="error")
        api, call = match["api"], match["call"]
        if (api == "track") != (call in _TRACK_CALLS):
            raise _Rejected(404, f"no such endpoint: {self.path}")
        if api == "data" and self._auth != "private":
            raise _Rejected(403, "the data API needs private access (Basic auth)")
        return api, call

    def do_GET(self) -> None:
        self._read_body()
        self._auth = None
        try:
            _, call = self._route()
            if call != _SYSTEM_TIME:
                raise _Rejected(405, "method not allowed")
            status, answer = 200, {"success": True, "time": time.time()}
        except _Rejected as error:
            status, answer = error.status, error.body()
        self.app._record(RecordedRequest(self.path, self._auth, status, 0, None,
                                         time.monotonic()), [], None)
        self._send(status, answer)

    def do_POST(self) -> None:
        app = self.app
        raw = self._read_body()
        arrived = time.monotonic()
        fault = app._next_fault()
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        self._auth = None
        accepted: list[dict[str, Any]] = []
        anonymized: dict[str, Any] | None = None
        status: int | None
        try:
            _, call = self._route()
            if call == _SYSTEM_TIME:
                raise _Rejected(405, "method not allowed")
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type.lower() != "application/json":
                raise _Rejected(400, "Content-Type must be application/json", key="message")
            try:
                body = json.loads(raw)
            except ValueError:
                raise _Rejected(400, "Invalid JSON", key="message") from None
            if not isinstance(body, dict):
                raise _Rejected(400, "Invalid JSON", key="message")
            status, answer, accepted, anonymized = self._process(
                call, body, fault, sized=len(raw) >= MAX_VALUE_BYTES)
        except _Rejected as error:
            status, answer = error.status, error.body()
        auth = self._auth
        n_commands = len(accepted)
        if fault is not None and (fault.drop or fault.status is not None):
            if not fault.process:
                accepted, anonymized = [], None
            if fault.drop:
                app._record(RecordedRequest(self.path, auth, None, n_commands, "drop", arrived),
                            accepted, anonymized)
                self._drop()
                return
            assert fault.status is not None
            status = fault.status
            answer = dict(fault.body) if fault.body is not None else {
                "success": False, "errors": [f"injected fault: HTTP {status}"]}
        headers = {}
        if fault is not None and fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        app._record(
            RecordedRequest(self.path, auth, status, n_commands,
                            fault.describe() if fault else None, arrived),
            accepted, anonymized,
        )
        self._send(status, answer, headers)

    def _process(
        self, call: str, body: dict[str, Any], fault: Fault | None, *, sized: bool
    ) -> tuple[int, dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
        app = self.app
        if call == "customers/anonymize":
            ids = body.get("customer_ids")
            if not isinstance(ids, dict) or not ids:
                raise _Rejected(400, "customer_ids must be a non-empty object")
            return 200, {"success": True}, [], ids
        if call == "batch":
            started = time.time()
            commands = body.get("commands")
            if not isinstance(commands, list) or not commands:
                raise _Rejected(400, "No commands", key="message")
            if any(not isinstance(command, dict) for command in commands):
                raise _Rejected(400, "Invalid JSON", key="message")
            if len(commands) > app.max_commands:
                raise _Rejected(400, f"Too many commands: {len(commands)} (at most "
                                f"{app.max_commands})", key="message")
            results: list[dict[str, Any]] = []
            accepted: list[dict[str, Any]] = []
            for index, command in enumerate(commands):
                result: dict[str, Any]
                if command.get("name") == _SYSTEM_TIME:
                    result = {"success": True, "time": time.time()}
                else:
                    error = self._command_error(command, sized=sized)
                    if error is None and fault is not None and index in fault.reject:
                        error = "injected fault: command rejected"
                    if error is None:
                        accepted.append(_recorded(command))
                        result = {"success": True}
                    else:
                        result = {"success": False, "errors": [error]}
                if isinstance(command.get("command_id"), str):
                    result["command_id"] = command["command_id"]
                results.append(result)
            return 200, {"success": True, "start_time": started, "end_time": time.time(),
                         "results": results}, accepted, None
        command = {"name": call, "data": body}
        error = self._command_error(command, sized=sized)
        if error is not None:
            raise _Rejected(400, error)
        return 200, {"success": True}, [command], None

    def _command_error(self, command: dict[str, Any], *, sized: bool) -> str | None:
        name = command.get("name")
        if name not in _COMMAND_NAMES:
            return f"unknown command name: {name!r}"
        return (_check_command_data(name, command.get("data"), sized=sized)
                or self.app._rejection(command))


def _recorded(command: dict[str, Any]) -> dict[str, Any]:
    out = {"name": command["name"], "data": command["data"]}
    if isinstance(command.get("command_id"), str):
        out["command_id"] = command["command_id"]
    return out
