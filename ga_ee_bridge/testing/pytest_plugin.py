"""A pytest plugin with the ``exponea_server`` fixture: a fresh local Exponea server per test.

Registered through the ``pytest11`` entry point ``ga_ee_bridge``: installing the package makes the
fixtures available in every project (``-p no:ga_ee_bridge`` turns it off). The server runs in its
own thread, so the same fixtures serve sync and async tests (anyio's plugin, pytest-asyncio, or
``asyncio.run()``); no event-loop plugin is needed for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ga_ee_bridge.testing.server import ExponeaServer

__all__ = ["exponea_options", "exponea_server"]


@pytest.fixture
def exponea_server() -> Iterator[ExponeaServer]:
    """A running :class:`~ga_ee_bridge.testing.server.ExponeaServer` on 127.0.0.1, stopped after."""
    with ExponeaServer() as server:
        yield server


@pytest.fixture
def exponea_options(exponea_server: ExponeaServer) -> dict[str, Any]:
    """Keyword arguments for a client of ``exponea_server``: ``AsyncExponea(**exponea_options)``.

    The same keywords fit ``Exponea``; add your own options with ``{**exponea_options, ...}``.
    """
    return {"project_token": exponea_server.project_token,
            "api_key_id": exponea_server.api_key_id, "api_secret": exponea_server.api_secret,
            "base_url": exponea_server.url}
