"""Old import paths of the modules that moved in 0.2: still importable, with a DeprecationWarning.

A meta path finder serves each old name as a thin module that forwards every attribute to the new
one, so ``from ga_ee_bridge.client import Exponea`` keeps working without a file per old path.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
import warnings
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

__all__ = ["MOVED", "install"]

#: Old module path -> new module path.
MOVED: dict[str, str] = {
    f"ga_ee_bridge.{old}": f"ga_ee_bridge.{new}"
    for old, new in {
        "model": "core.model",
        "events": "core.events",
        "numbers": "core.numbers",
        "timestamps": "core.timestamps",
        "defaults": "mappings.page_defaults",
        "datamodel": "convert.gtm_state",
        "dumps": "convert.input",
        "encoders": "convert.encoders",
        "pages": "convert.page",
        "parallel": "convert.runner",
        "sources": "convert.forms",
        "outputs": "convert.outputs",
        "client": "send.client",
        "request": "send.request",
        "sender": "send.sender",
        "spool": "send.spool",
        "validation": "send.validation",
        "strategies": "testing.strategies",
        "pytest_plugin": "testing.pytest_plugin",
        "readers.base": "readers._schema",
        "readers.fields": "readers._fields",
        "readers.events": "readers._events",
        "readers.renamed": "readers._renamed",
        "mappings.base": "mappings._protocol",
    }.items()
}


class _Forward(types.ModuleType):
    """A module that reads every attribute from the module it moved to."""

    def __init__(self, name: str, target: types.ModuleType):
        super().__init__(name, target.__doc__)
        self.__dict__["_target"] = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_target"], name)

    def __dir__(self) -> list[str]:
        return dir(self.__dict__["_target"])


class _Finder:
    """The meta path finder and loader of the old paths (duck-typed: importing importlib.abc,
    which loads importlib.resources and tempfile, would cost every ``import ga_ee_bridge``)."""

    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, cast("Loader", self))

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new} in ga-ee-bridge 0.2; import it from there "
            "(the old path goes in 0.3)",
            DeprecationWarning,
            stacklevel=2,
        )
        return _Forward(spec.name, importlib.import_module(new))

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module forwards to the new one."""


_FINDER = _Finder()


def install() -> None:
    """Serve the old paths (called once by ``ga_ee_bridge/__init__``)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)
