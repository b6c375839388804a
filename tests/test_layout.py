"""The package's shape is a promise too: cheap imports, old paths kept, the plugin registered."""

import importlib
import importlib.metadata
import json
import subprocess
import sys
import warnings

import pytest

import ga_ee_bridge
from ga_ee_bridge._moved import MOVED


def _loaded_after(statement: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter has loaded after ``statement``."""
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


def test_core_numbers_loads_no_heavy_library():
    loaded = _loaded_after("import ga_ee_bridge.core.numbers")
    assert not loaded & {"httpx", "sqlite3", "_sqlite3", "marshmallow", "hypothesis", "pytest"}


def test_the_package_loads_no_test_library_and_no_converter():
    loaded = _loaded_after("import ga_ee_bridge")
    assert not loaded & {"hypothesis", "pytest", "httpx", "marshmallow", "tqdm"}


def test_the_client_loads_no_converter_and_no_test_library():
    code = "import ga_ee_bridge as gee; gee.Exponea"
    out = subprocess.run(
        [sys.executable, "-c", f"import sys; {code}; print('\\n'.join(sys.modules))"],
        capture_output=True, text=True, check=True,
    )
    modules = set(out.stdout.split())
    assert "ga_ee_bridge.send.client" in modules
    assert not any(m.startswith(("ga_ee_bridge.convert", "ga_ee_bridge.testing", "hypothesis"))
                   for m in modules)


def test_public_names_resolve_lazily_to_their_homes():
    from ga_ee_bridge.send.client import Exponea

    assert ga_ee_bridge.Exponea is Exponea
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = ga_ee_bridge.Nope


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_import_paths_work_and_warn(old):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert any(issubclass(w.category, DeprecationWarning) and MOVED[old] in str(w.message)
               for w in caught)
    new = importlib.import_module(MOVED[old])
    for name in getattr(new, "__all__", ()):
        assert getattr(module, name) is getattr(new, name)


def test_old_from_import_of_a_class():
    with pytest.warns(DeprecationWarning, match="ga_ee_bridge.send.client"):
        sys.modules.pop("ga_ee_bridge.client", None)
        from ga_ee_bridge.client import Exponea
    assert Exponea is ga_ee_bridge.Exponea


def test_pytest_plugin_is_registered_by_entry_point():
    points = importlib.metadata.entry_points(group="pytest11")
    ours = [ep for ep in points if ep.value == "ga_ee_bridge.testing.pytest_plugin"]
    assert ours, "the pytest11 entry point is missing (reinstall the package)"
    assert ours[0].name == "ga_ee_bridge"


def test_exponea_server_fixture_comes_from_the_plugin(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("ga_ee_bridge")


def test_version_matches_the_installed_metadata():
    assert importlib.metadata.version("ga-ee-bridge") == ga_ee_bridge.__version__
    out = subprocess.run([sys.executable, "-m", "ga_ee_bridge", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"ga-ee-bridge {ga_ee_bridge.__version__}"


def test_hypothesis_is_not_a_base_dependency():
    requires = importlib.metadata.requires("ga-ee-bridge") or []
    base = [r for r in requires if "extra ==" not in r]
    assert not any(r.startswith(("hypothesis", "tqdm", "pytest")) for r in base), base
    assert any(r.startswith("hypothesis") and 'extra == "testing"' in r for r in requires)


def test_every_public_exception_has_one_base():
    from ga_ee_bridge import errors

    for name in ("EcommerceError", "DumpError", "APIError", "DeliveryError", "QueueFullError",
                 "NumberError", "TimestampError", "ConfigError"):
        assert issubclass(getattr(errors, name), errors.GaEeBridgeError), name
    # ... and each is still the built-in it always was
    assert issubclass(errors.EcommerceError, ValueError)
    assert issubclass(errors.QueueFullError, RuntimeError)


def _top_level_imports(path):
    """ga_ee_bridge modules imported at a module's top level (not in functions or TYPE_CHECKING)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ga_ee_bridge"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("ga_ee_bridge"))
    return names


def test_no_import_circle_at_module_level():
    from support import REPO

    package = REPO / "ga_ee_bridge"
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {name: {m for m in _top_level_imports(path) if m in modules and m != name}
             for name, path in modules.items()}
    # a package's __init__ importing its own submodules is not a circle through the package
    for name in graph:
        graph[name] = {m for m in graph[name] if not (m.startswith(name + ".") and name != "ga_ee_bridge")}
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                raise AssertionError(" -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_no_module_is_over_600_lines():
    from support import REPO

    long = {path.relative_to(REPO).as_posix(): n
            for path in (REPO / "ga_ee_bridge").rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600}
    assert not long, long


def test_the_mapping_protocol_no_longer_shadows_collections_mapping():
    from ga_ee_bridge import mappings

    with pytest.warns(DeprecationWarning, match="EventMapping"):
        assert mappings.Mapping is mappings.EventMapping
