"""The import contract: the protocol, the SDK and the plugins never reach into the kernel,
and the kernel and the plugin host never import a plugin.

``certkernel-sdk`` ships ``protocol/`` and ``sdk/python`` alone, and a
third-party plugin runs in a venv that holds nothing else, so one stray
``from certkernel import errors`` there breaks every such plugin at import
time. Built-in plugins are held to the same rule as third-party ones: they
use ``certkernel.sdk`` (which re-exports the protocol's types they need).
The other way round, the kernel and the plugin host know plugins only by
their manifests (found by path or entry point, run as processes): importing
``certkernel.plugins`` there would make a plugin's code part of the kernel.
The check reads every module's syntax tree, so imports inside functions and
under ``TYPE_CHECKING`` count too, and so do ``importlib.import_module`` and
``__import__`` calls with a literal name. (``importlib.util.find_spec`` only
locates a package's folder, executing nothing of it: discovery uses it to
find the built-in manifests.)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# folder -> (its own package, the certkernel packages it may import)
CONTRACT: dict[str, tuple[str, tuple[str, ...]]] = {
    "protocol": ("certkernel.protocol", ("certkernel.protocol",)),
    "sdk/python": ("certkernel.sdk", ("certkernel.protocol", "certkernel.sdk")),
    "plugins": ("certkernel.plugins", ("certkernel.sdk", "certkernel.plugins")),
}
# folder -> (its own package, the certkernel packages it must not import)
FORBIDDEN: dict[str, tuple[str, tuple[str, ...]]] = {
    "kernel": ("certkernel", ("certkernel.plugins",)),
    "plugin-host": ("certkernel.plugin_host", ("certkernel.plugins",)),
}
IMPORT_CALLS = {"import_module", "__import__"}


def imported_names(path: Path, package: str) -> list[tuple[int, str]]:
    """Every name ``path`` imports, absolute (relative imports resolved), by line."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    parts = package.split(".")
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            # ``from certkernel import errors`` imports certkernel.errors
            found.extend((node.lineno, f"{name}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in IMPORT_CALLS and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                found.append((node.lineno, first.value))
    return sorted(found)


def modules(folder: str) -> list[Path]:
    return sorted(p for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _imports_of(folder: str, root_package: str) -> list[tuple[Path, int, str]]:
    found = []
    for path in modules(folder):
        rel = path.relative_to(REPO / folder)
        package = ".".join([root_package, *rel.parent.parts])
        found += [(path, line, name) for line, name in imported_names(path, package)]
    return found


def breaches(folder: str) -> list[str]:
    if folder in FORBIDDEN:
        root_package, forbidden = FORBIDDEN[folder]
        return [f"{path.relative_to(REPO)}:{line} imports {name}"
                for path, line, name in _imports_of(folder, root_package)
                if _within(name, forbidden)]
    root_package, allowed = CONTRACT[folder]
    return [f"{path.relative_to(REPO)}:{line} imports {name}"
            for path, line, name in _imports_of(folder, root_package)
            if _within(name, ("certkernel",)) and not _within(name, allowed)]


@pytest.mark.parametrize("folder", sorted(CONTRACT) + sorted(FORBIDDEN))
def test_folder_imports_only_what_the_contract_allows(folder: str) -> None:
    assert modules(folder), f"no modules found under {folder}"
    assert breaches(folder) == []


def test_the_checker_sees_a_kernel_import_wherever_it_hides(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from certkernel.errors import PluginError\n"
        "def f():\n    import certkernel.plugin_host.process\n"
        "from certkernel import errors\n"
        "from certkernel.sdk import Kernel\n"
        "import importlib\n"
        "def g(name):\n"
        "    importlib.import_module('certkernel.plugin_host.launch')\n"
        "    __import__('certkernel.lock')\n"
        "    importlib.import_module(name)  # not a literal: not checked\n"
        "    importlib.util.find_spec('certkernel.plugins')  # locates, runs nothing\n"
    )
    names = [n for _, n in imported_names(module, "certkernel.plugins.x")]
    assert names == ["typing.TYPE_CHECKING", "certkernel.errors.PluginError",
                     "certkernel.plugin_host.process", "certkernel.errors",
                     "certkernel.sdk.Kernel", "importlib",
                     "certkernel.plugin_host.launch", "certkernel.lock"]


def test_a_kernel_or_host_import_of_a_plugin_is_a_breach(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel/host rule run on a planted tree: each way of importing a plugin is caught."""
    for folder in ("kernel/commands", "plugin-host"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "kernel" / "commands" / "x.py").write_text(
        "from certkernel.plugins.nginx import parser\n"
        "from ..plugins import webroot\n"
        "from certkernel.plugin_host import launch  # the host: fine\n")
    (tmp_path / "plugin-host" / "y.py").write_text(
        "import importlib\n"
        "importlib.import_module('certkernel.plugins.dns.plugin')\n"
        "import certkernel.plugins_extra  # another name: fine\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert breaches("kernel") == [
        "kernel/commands/x.py:1 imports certkernel.plugins.nginx.parser",
        "kernel/commands/x.py:2 imports certkernel.plugins.webroot"]
    assert breaches("plugin-host") == ["plugin-host/y.py:2 imports certkernel.plugins.dns.plugin"]


def test_kernel_errors_are_the_protocols_classes() -> None:
    """``except errors.X`` in the kernel still catches what a plugin raises."""
    from certkernel import errors
    from certkernel.protocol import errors as wire
    from certkernel.sdk import MisconfigurationError, PluginError

    assert errors.PluginError is wire.PluginError is PluginError
    assert errors.MisconfigurationError is MisconfigurationError
    assert errors.PluginTimeout is wire.PluginTimeout
    assert errors.Error is wire.Error


def test_plugin_errors_and_transport_failures_are_separate_branches() -> None:
    from certkernel import errors
    from certkernel.protocol import errors as wire

    for cls in wire.PLUGIN_ERROR_TYPES.values():
        assert issubclass(cls, wire.PluginError) and not issubclass(cls, wire.TransportError)
    for cls in (wire.PluginCrashed, wire.PluginTimeout, wire.ProtocolError, wire.MethodNotFound,
                wire.InvalidParams, wire.InvalidRequest, wire.CallCancelled,
                wire.RemoteInternalError):
        assert issubclass(cls, wire.TransportError) and not issubclass(cls, wire.PluginError)
    # a kernel-only failure (no -d given, nobody to ask) is the user's, not a plugin's
    assert issubclass(errors.MissingFlag, errors.ConfigurationError)
    assert not issubclass(errors.MissingFlag, wire.CallError)
