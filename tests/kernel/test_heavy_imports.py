"""Importing the kernel's and the plugin host's modules loads no heavy library.

The kernel imports its own modules at module level; the heavy third-party
libraries (the ACME stack, cryptography, requests, configobj) are imported
only where they are used, so ``--help``, ``plugins`` and a ``renew`` with
nothing due stay fast. A module that needs one of them at import time is a
boundary and is listed here with the library it may load.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("acme", "josepy", "cryptography", "requests", "configobj")
# module -> the heavy library it exists to wrap (imported at its top).
BOUNDARIES = {"certkernel.crypto": "cryptography"}
REPO = Path(__file__).resolve().parents[2]
# Checkout folder -> package (setup.py's ROOTS). The SDK, the protocol and the
# plugins are not the kernel; each plugin has its own rules.
ROOTS = {"kernel": "certkernel", "plugin-host": "certkernel.plugin_host"}


def kernel_modules() -> list[str]:
    """Every module of the kernel and the plugin host, from the checkout's files
    (an editable install's import hook hides them from pkgutil)."""
    found = []
    for folder, package in ROOTS.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if "__pycache__" in parts or parts[-1] == "__main__":
                continue
            if parts[-1] == "__init__":
                parts.pop()
            found.append(".".join([package, *parts]))
    return sorted(found)


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


def test_no_kernel_module_but_the_boundaries_loads_a_heavy_library() -> None:
    others = [m for m in kernel_modules() if m not in BOUNDARIES]
    assert _loaded_after_importing(others) == []


def test_each_boundary_loads_only_its_own_library() -> None:
    for module, library in BOUNDARIES.items():
        assert _loaded_after_importing([module]) == [library], module
