"""Engine tests: marked ``engines``; each module skips itself when its extra is not installed."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "/engines/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.engines)
