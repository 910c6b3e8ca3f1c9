"""Fixtures: a fresh tree of real files and a work dir per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel.checkpoints.reverter import Reverter
from tests.reverter.tree import make_tree


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def files(root: Path) -> dict[str, Path]:
    return make_tree(root)


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path / "work with space"


@pytest.fixture
def reverter(work_dir: Path) -> Iterator[Reverter]:
    with Reverter(str(work_dir), lock_timeout=5) as rev:
        yield rev
