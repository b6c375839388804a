"""A pytest plugin with the ``exponea_server`` fixture: a fresh local Exponea server per test.

Registered through the ``pytest11`` entry point ``ga_ee_bridge``: installing the package makes the
fixture available in every project (``-p no:ga_ee_bridge`` turns it off).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ga_ee_bridge.testing.server import ExponeaServer

__all__ = ["exponea_server"]


@pytest.fixture
def exponea_server() -> Iterator[ExponeaServer]:
    """A running :class:`~ga_ee_bridge.testing.server.ExponeaServer` on 127.0.0.1, stopped after."""
    with ExponeaServer() as server:
        yield server
