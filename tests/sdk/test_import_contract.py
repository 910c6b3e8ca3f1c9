"""The import contract: the protocol, the SDK and the plugins never reach into the kernel.

``certkernel-sdk`` ships ``protocol/`` and ``sdk/python`` alone, and a
third-party plugin runs in a venv that holds nothing else, so one stray
``from certkernel import errors`` there breaks every such plugin at import
time. Built-in plugins are held to the same rule as third-party ones: they
use ``certkernel.sdk`` (which re-exports the protocol's types they need).
The check reads every module's syntax tree, so imports inside functions and
under ``TYPE_CHECKING`` count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# folder -> (its own package, the certkernel packages it may import)
CONTRACT: dict[str, tuple[str, tuple[str, ...]]] = {
    "protocol": ("certkernel.protocol", ("certkernel.protocol",)),
    "sdk/python": ("certkernel.sdk", ("certkernel.protocol", "certkernel.sdk")),
    "plugins": ("certkernel.plugins", ("certkernel.sdk", "certkernel.plugins")),
}


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
    return sorted(found)


def modules(folder: str) -> list[Path]:
    return sorted(p for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)


def breaches(folder: str) -> list[str]:
    root_package, allowed = CONTRACT[folder]
    bad: list[str] = []
    for path in modules(folder):
        rel = path.relative_to(REPO / folder)
        package = ".".join([root_package, *rel.parent.parts])
        for line, name in imported_names(path, package):
            if name == "certkernel" or name.startswith("certkernel."):
                if not any(name == a or name.startswith(a + ".") for a in allowed):
                    bad.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    return bad


@pytest.mark.parametrize("folder", sorted(CONTRACT))
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
    )
    names = [n for _, n in imported_names(module, "certkernel.plugins.x")]
    assert names == ["typing.TYPE_CHECKING", "certkernel.errors.PluginError",
                     "certkernel.plugin_host.process", "certkernel.errors",
                     "certkernel.sdk.Kernel"]


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
