"""The Exponea client: the web SDK's surface (identify, update, anonymize, track, EE) in Python.

:class:`Exponea` holds the configuration and the background sender; it is shared and
thread-safe. :meth:`Exponea.customer` returns a light :class:`Customer` bound to one customer's
ids. Every call is checked before anything is queued (``ValueError`` naming the
attribute) and stamped with the time of the call: Unix seconds, strictly increasing per client, so
the server keeps the calls' order and a retried batch carries byte-identical commands (the API does
not promise to drop duplicates, so the sender resends only what it cannot know was accepted).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from ga_ee_bridge.core.events import CUSTOMER_COMMAND, EVENT_COMMAND, customer_command
from ga_ee_bridge.core.limits import MAX_BATCH_BYTES
from ga_ee_bridge.core.timestamps import micros_to_seconds, next_stamp
from ga_ee_bridge.mappings import to_exponea_events
from ga_ee_bridge.mappings.page_defaults import page_properties
from ga_ee_bridge.send.calls import OnError, OnSuccess, SenderStats
from ga_ee_bridge.send.request import DEFAULT_BASE_URL, APIBase, Credentials, TrackingAPI
from ga_ee_bridge.send.sender import Sender
from ga_ee_bridge.send.sender_base import SenderBase
from ga_ee_bridge.send.spool import DeadLetter, Spool
from ga_ee_bridge.send.validation import (
    check_customer_ids,
    check_event_type,
    check_properties,
    check_timestamp,
    looks_like_email,
    normalise_customer_properties,
    normalise_email,
    warn_many_properties,
)

__all__ = ["OPTIONS", "Customer", "Exponea"]

#: What each option of :class:`Exponea` does (``docs/limits.md`` shows them with their defaults).
OPTIONS: dict[str, str] = {
    "api_key_id": "private access (`Authorization: Basic`), with `api_secret`; needed for "
                  "`anonymize_customer`",
    "api_secret": "the private access secret (never shown in reprs, logs or errors)",
    "public_token": "public access (`Authorization: Token`) instead",
    "base_url": "the API's base URL (or your instance's)",
    "default_properties": "properties added to every event; the call's own properties win",
    "spool": "a SQLite spool file (or a `Spool`): durable delivery",
    "spool_synchronous": "`full` fsyncs every write; `normal` survives a crashed process but "
                         "maybe not a power cut",
    "timeout": "seconds: timeout of every HTTP request",
    "flush_interval": "seconds a command waits for others to share its batch",
    "max_queue_size": "commands held in memory (without a spool)",
    "queue_timeout": "seconds a call waits for room in a full queue before `QueueFullError`",
    "max_retry_time": "seconds a failing batch is retried before its commands fail",
    "backoff": "seconds: the first retry's backoff (doubled each time, with jitter)",
    "max_backoff": "seconds: the longest backoff between retries",
    "max_rps": "at most this many requests a second (none: no limit of our own)",
    "exit_timeout": "seconds: bound of the flush at interpreter exit or a child's end",
    "max_batch_bytes": "bytes in one batch request, at most",
}

logger = logging.getLogger("ga_ee_bridge.send.client")


class _Commands:
    """What both clients share: default properties, the strictly increasing clock, checked commands.

    :class:`Exponea` and :class:`~ga_ee_bridge.send.async_client.AsyncExponea` build every command
    here, so the two front ends cannot drift apart.
    """

    default_properties: dict[str, Any]
    _api: APIBase[Any, Any]
    _sender: SenderBase[Any]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(project_token={self._api.project_token!r}, "
                f"base_url={self._api.base_url!r}, credentials={self._api.credentials!r}, "
                f"spool={self.spool!r})")

    @property
    def project_token(self) -> str:
        """The project this client tracks to."""
        return self._api.project_token

    @property
    def spool(self) -> Spool | None:
        """The durable spool, if any."""
        return self._sender.spool

    @property
    def stats(self) -> SenderStats:
        """Counters: commands accepted and failed, requests, retries, failure reasons."""
        return self._sender.stats

    @property
    def queued(self) -> int:
        """Commands queued and not yet accepted or failed."""
        return self._sender.queued

    def _init_commands(self, default_properties: Mapping[str, Any] | None) -> None:
        self.default_properties = check_properties(default_properties, "default_properties")
        self._clock_lock = threading.Lock()
        self._last_us = 0
        _live_clients.add(self)

    def _new_customer_ids(self, customer_ids: Mapping[str, str | int | None]) -> dict[str, Any]:
        """Checked ids (``None`` values left out), or a new random cookie when there are none."""
        ids = {k: v for k, v in customer_ids.items() if v is not None}
        return check_customer_ids(ids) if ids else {"cookie": str(uuid.uuid4())}

    def timestamp(self) -> float:
        """Now, in Unix seconds, strictly after every earlier stamp of this client (ties +1 ms)."""
        now = round(time.time() * 1_000_000)
        with self._clock_lock:
            self._last_us = next_stamp(self._last_us, now)
            return micros_to_seconds(self._last_us)

    def event_properties(self, properties: Mapping[str, Any] | None, *,
                         user_agent: str | None = None, url: str | None = None) -> dict[str, Any]:
        """An event's properties: user-agent ones and ``location``, defaults, then the caller's."""
        if not (url or user_agent or self.default_properties):
            # The common call: the checked copy of the caller's properties is the result.
            merged = check_properties(properties) if properties else {}
        else:
            merged = page_properties(url, user_agent)
            merged.update(self.default_properties)
            if properties:
                merged.update(check_properties(properties))
        warn_many_properties(len(merged), "event properties")
        return merged

    def check_command(self, command: Mapping[str, Any], where: str = "command") -> dict[str, Any]:
        """A checked, time-stamped copy of a Tracking API command; ``ValueError`` names the key."""
        if not isinstance(command, Mapping):
            raise ValueError(f"{where}: a command must be an object, got {command!r:.80}")
        name = command.get("name")
        data = command.get("data")
        if name not in (EVENT_COMMAND, CUSTOMER_COMMAND):
            raise ValueError(f"{where}.name: must be {EVENT_COMMAND!r} or {CUSTOMER_COMMAND!r}, "
                             f"got {name!r}")
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}.data: must be an object, got {data!r:.80}")
        try:
            ids = check_customer_ids(data.get("customer_ids") or {})
        except ValueError as error:
            raise ValueError(f"{where}.data.{error}") from None
        properties = check_properties(data.get("properties"), f"{where}.data.properties")
        warn_many_properties(len(properties), f"{name} command")
        out: dict[str, Any] = {"customer_ids": ids}
        stamp_key = "timestamp" if name == EVENT_COMMAND else "update_timestamp"
        if name == EVENT_COMMAND:
            try:
                out["event_type"] = check_event_type(data.get("event_type"))
            except ValueError as error:
                raise ValueError(f"{where}.data.{error}") from None
        stamp = data.get(stamp_key)
        out[stamp_key] = (self.timestamp() if stamp is None
                          else check_timestamp(stamp, f"{where}.data.{stamp_key}"))
        out["properties"] = properties
        checked: dict[str, Any] = {"name": name, "data": out}
        command_id = command.get("command_id")
        if command_id is not None:
            if not isinstance(command_id, str) or not command_id:
                raise ValueError(f"{where}.command_id: must be a non-empty string, "
                                 f"got {command_id!r:.80}")
            checked["command_id"] = command_id
        return checked

    def _event_command(self, ids: Mapping[str, Any], event_type: str,
                       properties: dict[str, Any], timestamp: float | None) -> dict[str, Any]:
        return {"name": EVENT_COMMAND, "data": {
            "customer_ids": dict(ids), "event_type": event_type,
            "timestamp": self.timestamp() if timestamp is None else timestamp,
            "properties": properties}}

    def _customer_command(self, ids: Mapping[str, Any], properties: dict[str, Any]
                          ) -> dict[str, Any]:
        warn_many_properties(len(properties), "customer update")
        return customer_command(ids, properties, timestamp=self.timestamp())

    def _check_commands(self, commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.check_command(c, f"commands[{i}]") for i, c in enumerate(commands)]

    def _after_fork_in_child(self) -> None:
        self._clock_lock = threading.Lock()


class Exponea(_Commands):
    """A client for one Exponea project: configuration plus the shared background sender.

    Give private access (``api_key_id`` and ``api_secret``) or public access (``public_token``).
    ``spool=PATH`` makes delivery durable (see :mod:`ga_ee_bridge.send.spool`).
    ``default_properties`` go on every event; the caller's properties win. Use it as a context
    manager, or call :meth:`close`; at interpreter exit a bounded flush (``exit_timeout`` seconds)
    runs anyway.
    """

    _api: TrackingAPI
    _sender: Sender

    def __init__(
        self,
        project_token: str,
        *,
        api_key_id: str | None = None,
        api_secret: str | None = None,
        public_token: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        default_properties: Mapping[str, Any] | None = None,
        spool: str | os.PathLike[str] | Spool | None = None,
        spool_synchronous: str = "full",
        timeout: float = 10.0,
        flush_interval: float = 0.1,
        max_queue_size: int = 10_000,
        queue_timeout: float = 0.5,
        max_retry_time: float = 300.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_rps: float | None = None,
        exit_timeout: float = 5.0,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        credentials = Credentials(api_key_id=api_key_id, api_secret=api_secret,
                                  public_token=public_token)
        self._init_commands(default_properties)
        self._api = TrackingAPI(project_token, credentials, base_url=base_url, timeout=timeout,
                                transport=transport)
        if spool is not None and not isinstance(spool, Spool):
            spool = Spool(spool, synchronous=spool_synchronous)
        self._sender = Sender(
            self._api, spool=spool, flush_interval=flush_interval, max_queue_size=max_queue_size,
            queue_timeout=queue_timeout, max_retry_time=max_retry_time, backoff=backoff,
            max_backoff=max_backoff, max_rps=max_rps, exit_timeout=exit_timeout,
            max_batch_bytes=max_batch_bytes,
        )

    # -- customers ---------------------------------------------------------------------------

    def customer(self, *, user_agent: str | None = None, url: str | None = None,
                 **customer_ids: str | int | None) -> Customer:
        """A :class:`Customer` bound to ``customer_ids`` (``None`` values are left out).

        With no id at all (``customer()``, or ``customer(cookie=None)`` for a visitor without the
        ``__exponea_etc__`` cookie) the customer gets a new random cookie, as the web SDK does.
        ``user_agent`` and ``url`` (of the request) become the events' ``os``, ``browser``,
        ``device`` and ``location``.
        """
        return Customer(self, self._new_customer_ids(customer_ids), user_agent=user_agent,
                        url=url)

    def anonymize_customer(self, customer_ids: Mapping[str, Any]) -> None:
        """GDPR-anonymize a customer's profile through the data API (private access only).

        This erases personal data of an existing profile on the server, at once (not queued). It is
        a different thing from :meth:`Customer.anonymize`, which only starts a new anonymous
        visitor locally, as the web SDK's ``anonymize()`` does. Raises
        :class:`~ga_ee_bridge.send.request.APIError` on failure.
        """
        self._api.anonymize(check_customer_ids(customer_ids))

    # -- commands ----------------------------------------------------------------------------

    def send_commands(self, commands: Sequence[Mapping[str, Any]], *,
                      on_success: OnSuccess | None = None, on_error: OnError | None = None,
                      immediate: bool = False, progress: tuple[str, str] | None = None,
                      refused: Sequence[tuple[Mapping[str, Any], str]] = ()) -> None:
        """Queue ready-made Tracking API commands (``{"name", "data"}``), checked first.

        A command without a timestamp gets one now, so that retries stay identical. With a spool,
        ``progress`` (key, value) and ``refused`` ``(record, reason)`` dead letters are stored in
        the same transaction as the commands (this is how ``ga-ee-bridge send --spool`` resumes
        without sending a line twice and remembers the lines it could not read).
        """
        self._sender.submit(self._check_commands(commands), on_success=on_success,
                            on_error=on_error, immediate=immediate, progress=progress,
                            refused=[(dict(r), reason) for r, reason in refused])

    def _submit(self, commands: list[dict[str, Any]], on_success: OnSuccess | None,
                on_error: OnError | None, immediate: bool) -> None:
        self._sender.submit(commands, on_success=on_success, on_error=on_error,
                            immediate=immediate)

    # -- lifecycle ---------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued was accepted or failed; False if ``timeout`` ran out."""
        return self._sender.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush (up to ``timeout`` seconds) and stop; True when everything was delivered."""
        _live_clients.discard(self)
        return self._sender.close(timeout)

    def dead_letters(self) -> list[DeadLetter]:
        """Commands the server refused or that ran out of retries (from the spool, if any)."""
        return self._sender.dead_letters()

    def __enter__(self) -> Exponea:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


ClientT = TypeVar("ClientT", bound=_Commands)


class _CustomerBase(Generic[ClientT]):
    """One customer's ids and the web SDK's rules for them; the front ends send what this builds.

    Each ``_*_commands`` method checks a call and returns its commands without queuing anything;
    :class:`Customer` (sync) and :class:`~ga_ee_bridge.send.async_client.AsyncCustomer` queue them,
    and only then does ``identify`` change the ids.
    """

    __slots__ = ("_client", "_ids", "url", "user_agent")

    def __init__(self, client: ClientT, customer_ids: Mapping[str, Any], *,
                 user_agent: str | None = None, url: str | None = None) -> None:
        self._client = client
        self._ids = dict(customer_ids)
        self.user_agent = user_agent
        self.url = url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._ids!r})"

    @property
    def customer_ids(self) -> dict[str, Any]:
        """The current ids (a copy)."""
        return dict(self._ids)

    def anonymize(self) -> str:
        """Start a new anonymous visitor: a new UUID v4 cookie becomes the only id; returns it.

        Nothing is sent and the old profile keeps its data (as the web SDK's ``anonymize()``).
        To erase a profile's personal data, use the client's ``anonymize_customer``.
        """
        cookie = str(uuid.uuid4())
        self._ids = {"cookie": cookie}
        return cookie

    def _identify_commands(self, customer_ids: str | int | Mapping[str, Any],
                           properties: Mapping[str, Any] | None
                           ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The customer update of ``identify`` and the ids it gives the customer once queued."""
        if isinstance(customer_ids, bool):
            raise ValueError(
                f"customer_ids: must be a string, number or mapping, got {customer_ids!r}")
        new = ({"registered": customer_ids} if isinstance(customer_ids, str | int)
               else dict(customer_ids) if isinstance(customer_ids, Mapping) else None)
        if new is None:
            raise ValueError(
                f"customer_ids: must be a string, number or mapping, got {customer_ids!r:.80}")
        if "cookie" in new:
            warnings.warn("identify(): a 'cookie' id is ignored; the current cookie is kept "
                          "(use exponea.customer(cookie=...) to pick one)", UserWarning,
                          stacklevel=3)
            del new["cookie"]
        if new:
            new = check_customer_ids(new)
        registered = new.get("registered")
        if isinstance(registered, str) and looks_like_email(registered):
            new["registered"] = normalise_email(registered)
        merged = {**self._ids, **new}
        if "cookie" in self._ids:
            merged["cookie"] = self._ids["cookie"]
        props = normalise_customer_properties(check_properties(properties))
        return [self._client._customer_command(merged, props)], merged

    def _update_commands(self, properties: Mapping[str, Any]) -> list[dict[str, Any]]:
        props = normalise_customer_properties(check_properties(properties))
        return [self._client._customer_command(self._ids, props)]

    def _track_commands(self, event_type: str, properties: Mapping[str, Any] | None,
                        timestamp: float | dt.datetime | str | None, user_agent: str | None,
                        url: str | None) -> list[dict[str, Any]]:
        event_type = check_event_type(event_type)
        stamp = None if timestamp is None else check_timestamp(timestamp, "timestamp")
        props = self._client.event_properties(
            properties, user_agent=user_agent or self.user_agent, url=url or self.url)
        return [self._client._event_command(self._ids, event_type, props, stamp)]

    def _ecommerce_commands(self, ecommerce: Any, kind: str, mapping: str,
                            tracked_via: str | None, strict: bool, user_agent: str | None,
                            url: str | None) -> list[dict[str, Any]]:
        events = to_exponea_events(ecommerce, kind, mapping=mapping, tracked_via=tracked_via,
                                   strict=strict)
        ua, page = user_agent or self.user_agent, url or self.url
        return [
            self._client._event_command(
                self._ids, event.event_type,
                self._client.event_properties(event.properties, user_agent=ua, url=page), None)
            for event in events
        ]


class Customer(_CustomerBase["Exponea"]):
    """One customer's ids, with the web SDK's identify / update / anonymize / track.

    Light and not thread-safe: make one per request or task (``exponea.customer(...)``). Every
    sending method takes keyword-only ``on_success()``, ``on_error(error)`` and ``immediate``.
    """

    __slots__ = ()

    def identify(self, customer_ids: str | int | Mapping[str, Any],
                 properties: Mapping[str, Any] | None = None, *,
                 on_success: OnSuccess | None = None, on_error: OnError | None = None,
                 immediate: bool = False) -> None:
        """Add ids (a string or number means ``registered``) and send a customer update.

        The ids are merged into the current ones and the cookie is kept, which merges the anonymous
        profile into the identified one; a ``cookie`` passed here is ignored with a warning. An
        email as ``registered`` and the ``email`` attribute are trimmed and lower-cased.
        """
        commands, merged = self._identify_commands(customer_ids, properties)
        self._client._submit(commands, on_success, on_error, immediate)
        self._ids = merged

    def update(self, properties: Mapping[str, Any], *, on_success: OnSuccess | None = None,
               on_error: OnError | None = None, immediate: bool = False) -> None:
        """Send a customer update with the current ids (creates properties that do not exist)."""
        self._client._submit(self._update_commands(properties), on_success, on_error, immediate)

    def track(self, event_type: str, properties: Mapping[str, Any] | None = None, *,
              timestamp: float | dt.datetime | str | None = None, user_agent: str | None = None,
              url: str | None = None, on_success: OnSuccess | None = None,
              on_error: OnError | None = None, immediate: bool = False) -> None:
        """Send one event with the current ids (``0``, ``""`` and ``None`` values are kept).

        ``timestamp`` defaults to now (strictly increasing per client); give one (Unix seconds, a
        ``datetime`` or ISO 8601 text) to track something that happened earlier, e.g. a payment
        confirmed by a webhook. Milliseconds are refused: the API would read them as seconds.
        """
        commands = self._track_commands(event_type, properties, timestamp, user_agent, url)
        self._client._submit(commands, on_success, on_error, immediate)

    def track_enhanced_ecommerce(
        self, ecommerce: Any, kind: str = "all", *, mapping: str = "sdk",
        tracked_via: str | None = None, strict: bool = False, user_agent: str | None = None,
        url: str | None = None, on_success: OnSuccess | None = None,
        on_error: OnError | None = None, immediate: bool = False,
    ) -> int:
        """Send GA Enhanced Ecommerce data as Exponea events, like the web SDK's method.

        ``ecommerce`` is GA's ``ecommerce`` object (or a whole push, or a parsed model); ``kind``
        picks one section or ``"all"``. Returns how many events were queued; ``on_success`` runs
        once all of them were accepted, ``on_error`` once per refused event.
        """
        commands = self._ecommerce_commands(ecommerce, kind, mapping, tracked_via, strict,
                                            user_agent, url)
        self._client._submit(commands, on_success, on_error, immediate)
        return len(commands)


_live_clients: weakref.WeakSet[_Commands] = weakref.WeakSet()  # both clients


def _after_fork_in_child() -> None:
    for client in list(_live_clients):
        client._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
