"""Fixtures for the DNS authenticator tests: one real BIND per session.

No ``__init__.py`` in this folder on purpose: a package named ``dns`` here
would shadow dnspython.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.infra.bind import Bind


@pytest.fixture(scope="session")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    """A BIND serving example.com, validation.example.net, example.org, locked.test."""
    with Bind(tmp_path_factory.mktemp("bind")) as server:
        yield server
