"""A pytest plugin with the ``exponea_server`` fixture: a fresh local Exponea server per test.

Enable it in a ``conftest.py`` with ``pytest_plugins = ["ga_ee_bridge.pytest_plugin"]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ga_ee_bridge.testing import ExponeaServer

__all__ = ["exponea_server"]


@pytest.fixture
def exponea_server() -> Iterator[ExponeaServer]:
    """A running :class:`~ga_ee_bridge.testing.ExponeaServer` on 127.0.0.1, stopped after."""
    with ExponeaServer() as server:
        yield server
