"""Package discovery from the tree: no hand-kept list of packages or data files.

The repository maps a few folders into the ``certkernel`` namespace
(``kernel/`` is ``certkernel``, ``plugin-host/`` is ``certkernel.plugin_host``
...), which setuptools' own ``find_packages`` cannot follow.  ``ROOTS`` names
those folders once -- it is the layout of the repository, not a package list --
and :func:`discover` walks each one: the root and every folder below it with an
``__init__.py`` is a package (``certkernel`` itself has none: it is a PEP 420
namespace shared with ``certkernel-sdk``), and every other file below it (manifests, ``PROTOCOL.md``, vectors,
unit templates) is that package's data.  A new plugin folder is packaged the
moment it exists.

The protocol (``protocol/``) and the Python SDK (``sdk/python``) are not
here: they are the ``certkernel-sdk`` distribution, built from
``packaging/certkernel-sdk`` (issue 14), which this one depends on.  Both
install into the one ``certkernel`` folder, which neither owns: it has no
``__init__.py`` (see ``kernel/version.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent

# import name -> folder (relative to this file).  Nested roots win over the
# folder that contains them: ``plugins`` is not inside ``kernel``, but
# ``certkernel.plugins`` would be a sub-package of ``certkernel`` by name only.
ROOTS: dict[str, str] = {
    "certkernel": "kernel",
    "certkernel.plugin_host": "plugin-host",
    "certkernel.plugins": "plugins",
}

# Files that are build or editor debris, never data.
_SKIP_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", "~")
_SKIP_DIRS = {"__pycache__", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache"}

# Installed outside the package: where man(1) and the shell completion loaders look.
DATA_FILES: list[tuple[str, list[str]]] = [
    ("share/man/man1", ["share/man/man1/certkernel.1"]),
    ("share/bash-completion/completions", ["share/bash-completion/completions/certkernel"]),
    ("share/zsh/site-functions", ["share/zsh/site-functions/_certkernel"]),
]


def discover(roots: dict[str, str], base: Path = HERE) -> tuple[
        list[str], dict[str, str], dict[str, list[str]]]:
    """Packages, their folders and their data files, found by walking ``roots``."""
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    package_data: dict[str, list[str]] = {}
    for root_name, root_dir in sorted(roots.items()):
        package_dir[root_name] = root_dir
        for folder, dirs, files in os.walk(base / root_dir):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
            rel = Path(folder).relative_to(base / root_dir)
            if "__init__.py" not in files and rel.parts:
                continue  # a data folder; a root itself may be a namespace package
            name = ".".join((root_name, *rel.parts)) if rel.parts else root_name
            if name in roots and name != root_name:
                continue  # another root owns it
            packages.append(name)
            data = _data_below(Path(folder), roots, base)
            if data:
                package_data[name] = data
    return sorted(packages), package_dir, package_data


def _data_below(package: Path, roots: dict[str, str], base: Path) -> list[str]:
    """Data of ``package``: its non-code files and everything in its non-package sub-folders.

    A script kept beside data (``protocol/vectors/make_vectors.py``) is data too.
    """
    owned_elsewhere = {(base / d).resolve() for d in roots.values()}
    found: list[str] = []
    for folder, dirs, files in os.walk(package):
        here = Path(folder)
        keep = []
        for d in sorted(dirs):
            sub = here / d
            if (d in _SKIP_DIRS or d.startswith(".") or (sub / "__init__.py").exists()
                    or sub.resolve() in owned_elsewhere):
                continue  # a package of its own (or debris)
            keep.append(d)
        dirs[:] = keep
        for f in sorted(files):
            if f.endswith(_SKIP_SUFFIXES) or f.startswith("."):
                continue
            if here == package and f.endswith(".py"):
                continue  # the package's own modules, packaged as code
            found.append((here / f).relative_to(package).as_posix())
    return found


if __name__ == "__main__":
    PACKAGES, PACKAGE_DIR, PACKAGE_DATA = discover(ROOTS)
    setup(
        packages=PACKAGES,
        package_dir=PACKAGE_DIR,
        package_data=PACKAGE_DATA,
        include_package_data=False,
        data_files=[(d, [f for f in files if (HERE / f).exists()]) for d, files in DATA_FILES],
    )
