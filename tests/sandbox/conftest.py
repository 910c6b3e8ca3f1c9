"""Session fixtures for the sandbox tests: a real system user, a readable
Python, a world-readable scratch folder, and a BIND for the DNS case.

These tests must run as root (they switch users); as anyone else they fail
with that reason instead of passing vacuously.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra import sandbox_env as se
from tests.infra.bind import Bind


@pytest.fixture(scope="session")
def sandbox_user() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.fail("the sandbox tests switch users and must run as root")
    created = se.ensure_user()
    yield se.USER
    if created:
        se.remove_user()


@pytest.fixture(scope="session")
def sandbox_root() -> Iterator[Path]:
    """A 0755 folder under /tmp: the plugin's user can reach what we put there."""
    root = Path(tempfile.mkdtemp(prefix="ck-sandbox-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    se.remove_tree(root)


@pytest.fixture(scope="session")
def readable_python(sandbox_user: str, sandbox_root: Path) -> str:
    """This interpreter if the plugin's user can run it, else a readable virtualenv."""
    if se.python_usable_by(sys.executable, sandbox_user):
        return sys.executable
    python = se.build_shim_venv(se.world_dir(sandbox_root, "python"))
    assert se.python_usable_by(python, sandbox_user), python
    return python


@pytest.fixture(scope="session")
def kernel(readable_python: str, sandbox_root: Path) -> se.Kernel:
    return se.Kernel(readable_python, se.world_dir(sandbox_root, "runs"))


@pytest.fixture(scope="session")
def sandbox_bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    with Bind(tmp_path_factory.mktemp("bind")) as server:
        yield server
