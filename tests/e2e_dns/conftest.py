"""Fixtures for the DNS CLI end-to-end tests: a real BIND and a Pebble that
resolves through it. No ``__init__.py`` here (test folders named like
libraries must not be packages); file names are unique instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.infra.bind import Bind
from tests.infra.pebble import Pebble


@pytest.fixture(scope="session")
def e2e_bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    with Bind(tmp_path_factory.mktemp("e2e-bind")) as server:
        yield server


@pytest.fixture(scope="session")
def bind_pebble(e2e_bind: Bind, pebble_factory: Callable[..., Pebble]) -> Pebble:
    """Pebble validating dns-01 by asking the BIND above."""
    return pebble_factory(dns_server=f"127.0.0.1:{e2e_bind.port}")
