"""Fixtures for storage tests: one throwaway CA per session."""

from __future__ import annotations

import pytest

from tests.infra.minica import MiniCA
from tests.infra.postgres import pg_cluster  # noqa: F401  (fleet backends' session fixture)


@pytest.fixture(scope="session")
def ca() -> MiniCA:
    return MiniCA()
