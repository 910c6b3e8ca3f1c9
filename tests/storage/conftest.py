"""Fixtures for storage tests: one throwaway CA per session."""

from __future__ import annotations

import pytest

from tests.infra.minica import MiniCA


@pytest.fixture(scope="session")
def ca() -> MiniCA:
    return MiniCA()
