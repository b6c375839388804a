"""One HTTP call to the Exponea APIs from asyncio: :class:`AsyncTrackingAPI` over httpx.AsyncClient.

The body, headers, status rules and answer parsing are :mod:`ga_ee_bridge.send.request`'s; only the
I/O differs. The API secret never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ga_ee_bridge.send.request import (
    APIBase,
    CommandResult,
    anonymize_path,
    batch_path,
    batch_request,
    batch_results,
    check_anonymized,
    check_can_anonymize,
    check_response,
    encode_body,
    network_error,
    request_headers,
    tls_context,
)

__all__ = ["AsyncTrackingAPI"]

# httpcore imports anyio's asyncio backend on the first request, on the loop: a stall of tens of
# milliseconds at the worst moment. Pay for it when this module is imported instead.
with contextlib.suppress(ImportError):
    import anyio._backends._asyncio  # noqa: F401


class AsyncTrackingAPI(APIBase[httpx.AsyncBaseTransport, httpx.AsyncClient]):
    """Awaitable calls to one Exponea project: :meth:`batch` and :meth:`anonymize`."""

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=httpx.Timeout(self.timeout),
                                 headers=request_headers(self.credentials),
                                 transport=self._transport, verify=tls_context())

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def _post(self, path: str, body: Mapping[str, Any] | bytes) -> httpx.Response:
        try:
            response = await self._client.post(self.base_url + path, content=encode_body(body))
        except httpx.TransportError as error:
            raise network_error(error) from None
        return check_response(response)

    async def batch(self, commands: Sequence[Mapping[str, Any] | str], *,
                    command_ids: Sequence[str | None] | None = None) -> list[CommandResult]:
        """POST up to 50 commands to the batch endpoint; one :class:`CommandResult` per command.

        As :meth:`TrackingAPI.batch <ga_ee_bridge.send.request.TrackingAPI.batch>`: mappings or
        encoded text, results matched by ``command_id``.
        """
        body, ids = batch_request(commands, command_ids)
        return batch_results(await self._post(batch_path(self.project_token), body), ids)

    async def anonymize(self, customer_ids: Mapping[str, Any]) -> None:
        """POST the GDPR anonymization of one customer to the data API (private access only)."""
        check_can_anonymize(self.credentials)
        response = await self._post(anonymize_path(self.project_token),
                                    {"customer_ids": dict(customer_ids)})
        check_anonymized(response)
