"""Importing the kernel's and the plugin host's modules loads no heavy library.

The kernel imports its own modules at module level, always; the heavy
third-party libraries (the ACME stack, cryptography, requests, configobj) are
imported only inside the functions that use them, and only in the boundary
modules listed here, so ``--help``, ``plugins`` and a ``renew`` with nothing
due stay fast while every other module can import any kernel module at the top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

HEAVY = ("acme", "josepy", "cryptography", "requests", "configobj", "psycopg")
# module -> the heavy libraries it may import (inside the functions that use them).
BOUNDARIES: dict[str, set[str]] = {
    "certkernel.crypto": {"cryptography"},  # keys, CSRs, certificate fields
    "certkernel.ca.acme_session": {"acme", "josepy", "cryptography", "requests"},
    "certkernel.ca.acme_network": {"acme", "josepy"},  # the signed transport
    "certkernel.ca.accounts": {"josepy", "cryptography"},  # account keys as JWKs
    "certkernel.ca.issuance": {"acme", "cryptography"},  # orders, the CSR's names
    "certkernel.ca.chains": {"cryptography"},  # issuer names for --preferred-chain
    "certkernel.ca.ari_fetch": {"cryptography", "requests"},  # ARI certificate IDs
    "certkernel.flows.obtain_flow": {"acme", "josepy"},  # preloaded while a plugin starts
    "certkernel.runtime.deploy": {"cryptography"},  # the OCSP URL for must-staple
    "certkernel.lineages.renewal_conf": {"configobj"},  # confs beyond the plain subset
    "certkernel.conformance.installer_checks": {"cryptography"},  # plugin-check's test cert
    "certkernel.fleet.store_key": {"cryptography"},  # AES-GCM seals keys in the fleet store
    "certkernel.fleet.connect": {"psycopg"},  # the fleet store's connections
    "certkernel.fleet.lease": {"psycopg"},  # lease rows (errors told apart by class)
    "certkernel.fleet.pg_store": {"psycopg"},  # JSON parameters, integrity errors
    "certkernel.fleet.store_open": {"psycopg"},  # an unreachable store told apart
    "certkernel.fleet.schema": {"psycopg"},  # migrations (errors told apart by class)
}
REPO = Path(__file__).resolve().parents[2]
# Checkout folder -> package (setup.py's ROOTS). The SDK, the protocol and the
# plugins are not the kernel; each plugin has its own rules.
ROOTS = {"kernel": "certkernel", "plugin-host": "certkernel.plugin_host"}


def kernel_modules() -> list[str]:
    """Every module of the kernel and the plugin host, from the checkout's files
    (an editable install's import hook hides them from pkgutil)."""
    return sorted(kernel_files())


def kernel_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, package in ROOTS.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if "__pycache__" in parts or parts[-1] == "__main__":
                continue
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _loaded_after_importing(names: list[str]) -> list[str]:
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            f"print(','.join(h for h in {HEAVY!r} if h in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [h for h in done.stdout.strip().split(",") if h]


def test_the_walk_finds_the_kernel_and_the_host() -> None:
    modules = kernel_modules()
    assert len(modules) > 60
    assert {"certkernel.main", "certkernel.renewal.renewal_plan", "certkernel.plugin_host.process",
            "certkernel.ca.acme_session"} <= set(modules)


def test_no_kernel_module_loads_a_heavy_library_when_imported() -> None:
    assert _loaded_after_importing(kernel_modules()) == []


def _runtime_imports(tree: ast.AST, in_function: bool = False):  # type: ignore[no-untyped-def]
    """(imported module, inside a function?) for every import that can run."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        if isinstance(node, ast.Import):
            yield from ((a.name, in_function) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, in_function
        yield from _runtime_imports(node, inner)


def _imports_by_module() -> dict[str, list[tuple[str, bool]]]:
    return {m: list(_runtime_imports(ast.parse(path.read_text())))
            for m, path in kernel_files().items()}


# The deferred internal imports, each measured on a quick path: a ``renew`` with
# nothing due (the cron job's usual run) skips importing the renewal machinery
# (plugin host, protocol registry, checkpoints, lifecycle) and the ACME session
# modules ARI needs, and fleet mode's store code; ``certkernel plugins`` without --probe skips the launcher
# and the protocol registry. bench/renew.py and bench/startup.py show the cost.
DEFERRED = {
    "certkernel.commands.renew": ["certkernel.fleet", "certkernel.renewal.renew_flow"],
    "certkernel.renewal.renewal_plan": ["certkernel.ca.ari_fetch"],
    "certkernel.commands.plugins": ["certkernel.plugin_host.launch",
                                    "certkernel.plugin_host.sandbox_paths",
                                    "certkernel.plugin_host.services"],
}


def test_internal_imports_are_at_module_level() -> None:
    """A function-local import of a kernel module hides a cycle or a slow path."""
    local = {m: sorted(i for i, inner in found if inner and i.startswith("certkernel"))
             for m, found in _imports_by_module().items()}
    assert {m: found for m, found in local.items() if found} == DEFERRED


def test_a_renew_with_nothing_due_does_not_import_the_renewal_machinery() -> None:
    code = ("import sys, certkernel.commands.renew\n"
            "print(sorted(m for m in ('certkernel.renewal.renew_flow', "
            "'certkernel.plugin_host.launch', 'certkernel.protocol.methods') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_heavy_libraries_are_imported_only_by_their_boundaries() -> None:
    used = {m: {i.split(".")[0] for i, _ in found if i.split(".")[0] in HEAVY}
            for m, found in _imports_by_module().items()}
    assert {m: libs for m, libs in used.items() if libs} == BOUNDARIES


def test_the_import_walk_sees_function_local_and_type_checking_imports() -> None:
    tree = ast.parse("import a\nif TYPE_CHECKING:\n    import b\ndef f():\n    from c import d\n")
    assert list(_runtime_imports(tree)) == [("a", False), ("c", True)]
