"""Fixtures for the ACME engine tests: a registered account on the session Pebble."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from certkernel.ca.accounts import new_account_key
from certkernel.ca.acme_session import AcmeSession, SessionSettings
from tests.infra.pebble import Pebble


def settings_for(pebble: Pebble, **overrides: object) -> SessionSettings:
    return SessionSettings(server=pebble.directory_url, verify=pebble.ca_bundle,
                           **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def ec_account_key() -> object:
    return new_account_key("ecdsa")


@pytest.fixture
def session_factory() -> Callable[..., AcmeSession]:
    """A new session with a freshly registered account on the given Pebble."""

    def make(pebble: Pebble, key: object | None = None, **overrides: object) -> AcmeSession:
        session = AcmeSession(settings_for(pebble, **overrides), key or new_account_key("ecdsa"))
        session.register(emails=["admin@example.com"], agree_tos=True)
        return session

    return make


@pytest.fixture
def session(pebble: Pebble, session_factory: Callable[..., AcmeSession]) -> AcmeSession:
    return session_factory(pebble)
