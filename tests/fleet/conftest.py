"""Fixtures for fleet mode: the session's private PostgreSQL cluster, one throwaway CA."""

from __future__ import annotations

import pytest

from tests.infra.minica import MiniCA
from tests.infra.postgres import pg_cluster  # noqa: F401  (the session fixture)


@pytest.fixture(scope="session")
def ca() -> MiniCA:
    return MiniCA()


from tests.infra.cli_fixtures import hook  # noqa: E402, F401 (the dns-01 hook fixture)
