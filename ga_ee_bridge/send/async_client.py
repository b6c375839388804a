"""The asyncio Exponea client: :class:`Exponea`'s surface and guarantees, awaitable, for ASGI apps.

:class:`AsyncExponea` builds and checks every command exactly as :class:`Exponea` does (they share
:class:`~ga_ee_bridge.send.client._Commands`), and :class:`AsyncCustomer` follows the same id rules
(they share :class:`~ga_ee_bridge.send.client._CustomerBase`). Delivery is an
:class:`~ga_ee_bridge.send.async_sender.AsyncSender`: one task per client on the loop it is first
used on, the spool's SQLite work in a worker thread.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from ga_ee_bridge.core.limits import MAX_BATCH_BYTES
from ga_ee_bridge.send.async_request import AsyncTrackingAPI
from ga_ee_bridge.send.async_sender import AsyncSender
from ga_ee_bridge.send.calls import OnError, OnSuccess
from ga_ee_bridge.send.client import _Commands, _CustomerBase
from ga_ee_bridge.send.request import DEFAULT_BASE_URL, Credentials
from ga_ee_bridge.send.spool import DeadLetter, Spool
from ga_ee_bridge.send.validation import check_customer_ids

__all__ = ["AsyncCustomer", "AsyncExponea"]


class AsyncExponea(_Commands):
    """An asyncio client for one Exponea project: configuration plus one background sender task.

    The options are :class:`~ga_ee_bridge.send.client.Exponea`'s (``transport`` is an
    ``httpx.AsyncBaseTransport``). Use it as ``async with``, or ``await close()`` (in an ASGI
    lifespan's shutdown), which closes within ``exit_timeout`` seconds. Nothing can be sent at
    interpreter exit (the loop is gone by then): a client never closed reports what it did not
    deliver to ``on_error`` then (or keeps it in its spool), with one WARNING.
    """

    _api: AsyncTrackingAPI
    _sender: AsyncSender

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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        credentials = Credentials(api_key_id=api_key_id, api_secret=api_secret,
                                  public_token=public_token)
        self._init_commands(default_properties)
        self.exit_timeout = exit_timeout
        self._api = AsyncTrackingAPI(project_token, credentials, base_url=base_url,
                                     timeout=timeout, transport=transport)
        if spool is not None and not isinstance(spool, Spool):
            spool = Spool(spool, synchronous=spool_synchronous)
        self._sender = AsyncSender(
            self._api, spool=spool, flush_interval=flush_interval, max_queue_size=max_queue_size,
            queue_timeout=queue_timeout, max_retry_time=max_retry_time, backoff=backoff,
            max_backoff=max_backoff, max_rps=max_rps, exit_timeout=exit_timeout,
            max_batch_bytes=max_batch_bytes,
        )

    # -- customers and commands --------------------------------------------------------------

    def customer(self, *, user_agent: str | None = None, url: str | None = None,
                 **customer_ids: str | int | None) -> AsyncCustomer:
        """An :class:`AsyncCustomer` bound to ``customer_ids``, as :meth:`Exponea.customer`."""
        return AsyncCustomer(self, self._new_customer_ids(customer_ids), user_agent=user_agent,
                             url=url)

    async def anonymize_customer(self, customer_ids: Mapping[str, Any]) -> None:
        """GDPR-anonymize a customer's profile through the data API now (private access only).

        Raises :class:`~ga_ee_bridge.errors.APIError` on failure; see
        :meth:`Exponea.anonymize_customer`.
        """
        await self._api.anonymize(check_customer_ids(customer_ids))

    async def send_commands(self, commands: Sequence[Mapping[str, Any]], *,
                            on_success: OnSuccess | None = None, on_error: OnError | None = None,
                            immediate: bool = False) -> None:
        """Queue ready-made Tracking API commands (``{"name", "data"}``), checked first."""
        await self._submit(self._check_commands(commands), on_success, on_error, immediate)

    async def _submit(self, commands: list[dict[str, Any]], on_success: OnSuccess | None,
                      on_error: OnError | None, immediate: bool,
                      queued: Callable[[], object] | None = None) -> None:
        await self._sender.submit(commands, on_success=on_success, on_error=on_error,
                                  immediate=immediate, queued=queued)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the sender now (``async with`` does): a spool's leftovers go out at once."""
        await self._sender.start()

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued was accepted or failed; False if ``timeout`` ran out."""
        return await self._sender.flush(timeout)

    async def close(self, timeout: float | None = None) -> bool:
        """Flush (up to ``timeout`` seconds) and stop; True when everything was delivered.

        What is left is reported: without a spool each command fails through its ``on_error``;
        with one it stays there for the next client. Either way a WARNING gives the count.
        """
        return await self._sender.close(timeout)

    async def dead_letters(self) -> list[DeadLetter]:
        """Commands the server refused or that ran out of retries (from the spool, if any)."""
        return await self._sender.dead_letters()

    async def __aenter__(self) -> AsyncExponea:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close(self.exit_timeout)


class AsyncCustomer(_CustomerBase[AsyncExponea]):
    """One customer's ids with awaitable identify / update / track; :class:`Customer`'s rules.

    Light, one per request or task. Each call returns once its commands are queued (with a spool:
    on disk); ``on_success`` and ``on_error`` may be plain functions or coroutine functions.
    """

    __slots__ = ()

    async def identify(self, customer_ids: str | int | Mapping[str, Any],
                       properties: Mapping[str, Any] | None = None, *,
                       on_success: OnSuccess | None = None, on_error: OnError | None = None,
                       immediate: bool = False) -> None:
        """Add ids and send a customer update, as :meth:`Customer.identify`.

        The ids change when the update is queued (never for a call that queued nothing).
        """
        commands, merged = self._identify_commands(customer_ids, properties)

        def adopt() -> None:
            self._ids = merged

        await self._client._submit(commands, on_success, on_error, immediate, adopt)

    async def update(self, properties: Mapping[str, Any], *, on_success: OnSuccess | None = None,
                     on_error: OnError | None = None, immediate: bool = False) -> None:
        """Send a customer update with the current ids."""
        await self._client._submit(self._update_commands(properties), on_success, on_error,
                                   immediate)

    async def track(self, event_type: str, properties: Mapping[str, Any] | None = None, *,
                    timestamp: float | dt.datetime | None = None, user_agent: str | None = None,
                    url: str | None = None, on_success: OnSuccess | None = None,
                    on_error: OnError | None = None, immediate: bool = False) -> None:
        """Send one event with the current ids, as :meth:`Customer.track`."""
        commands = self._track_commands(event_type, properties, timestamp, user_agent, url)
        await self._client._submit(commands, on_success, on_error, immediate)

    async def track_enhanced_ecommerce(
        self, ecommerce: Any, kind: str = "all", *, mapping: str = "sdk",
        tracked_via: str | None = None, strict: bool = False, user_agent: str | None = None,
        url: str | None = None, on_success: OnSuccess | None = None,
        on_error: OnError | None = None, immediate: bool = False,
    ) -> int:
        """Send GA Enhanced Ecommerce data as Exponea events; returns how many were queued."""
        commands = self._ecommerce_commands(ecommerce, kind, mapping, tracked_via, strict,
                                            user_agent, url)
        await self._client._submit(commands, on_success, on_error, immediate)
        return len(commands)

