"""The ``certkernel-sdk`` distribution: ``protocol/`` and ``sdk/python`` of this repository.

The folders are reached through the symlinks beside this file, so the SDK is
built from the same sources the kernel uses (one source of truth) while its
metadata -- name, version, changelog, msgpack as the only dependency -- stays
its own.  Install or build it from this folder:
``pip install ./packaging/certkernel-sdk`` or ``pip wheel --no-deps ./packaging/certkernel-sdk``.

There is no ``certkernel/__init__.py`` here: the SDK installs
``certkernel/protocol`` and ``certkernel/sdk`` only.  Alone in a venv,
``certkernel`` is then a PEP 420 namespace package; beside the main
``certkernel`` distribution, that distribution's ``__init__.py`` (with
``__version__``) makes it a regular package whose folder holds both
distributions' sub-packages.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
# import name -> folder (relative to this file; both are symlinks into the repository)
ROOTS = {"certkernel.protocol": "protocol", "certkernel.sdk": "sdk"}
_SKIP_DIRS = {"__pycache__", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", "~")


def discover() -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    """Packages (folders with ``__init__.py``) and every other file below them as data."""
    packages: list[str] = []
    package_data: dict[str, list[str]] = {}
    for name, folder in ROOTS.items():
        base = HERE / folder
        packages.append(name)
        data: list[str] = []
        for path, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
            rel = Path(path).relative_to(base)
            for f in sorted(files):
                if f.endswith(_SKIP_SUFFIXES) or f.startswith("."):
                    continue
                if not rel.parts and f.endswith(".py"):
                    continue  # the package's own modules
                data.append((rel / f).as_posix())
        package_data[name] = data
    return packages, dict(ROOTS), package_data


if __name__ == "__main__":
    PACKAGES, PACKAGE_DIR, PACKAGE_DATA = discover()
    setup(packages=PACKAGES, package_dir=PACKAGE_DIR, package_data=PACKAGE_DATA,
          include_package_data=False)
