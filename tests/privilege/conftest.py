"""Session fixtures for the least-privilege tests: the kernel run as root with
no privilege flag, a Python its unprivileged account can run, and BIND.

These tests must run as root (the kernel switches users only then); as
anyone else they fail with that reason instead of passing vacuously.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel.plugin_host.sandbox_users import ACCOUNT, ensure_account
from tests.infra import sandbox_env as se
from tests.infra.bind import Bind


@pytest.fixture(scope="session")
def account() -> str:
    """certkernel's plugin account (what the kernel creates on first use; never removed)."""
    if os.geteuid() != 0:
        pytest.fail("the least-privilege tests need root: only root switches plugin users")
    return ensure_account().name


@pytest.fixture(scope="session")
def privilege_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="ck-privilege-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    se.remove_tree(root)


@pytest.fixture(scope="session")
def kernel(account: str, privilege_root: Path) -> se.Kernel:
    python = sys.executable
    if not se.python_usable_by(python, account):
        python = se.build_shim_venv(se.world_dir(privilege_root, "python"))
        assert se.python_usable_by(python, account), python
    return se.Kernel(python, se.world_dir(privilege_root, "runs"))


@pytest.fixture(scope="session")
def privilege_bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    with Bind(tmp_path_factory.mktemp("bind")) as server:
        yield server


@pytest.fixture(scope="session")
def account_name() -> str:
    return ACCOUNT
