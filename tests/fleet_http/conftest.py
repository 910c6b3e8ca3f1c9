"""The fleet-http tests' session services: the private PostgreSQL cluster the shared board
lives in (started only when a test asks for it)."""

from tests.infra.postgres import pg_cluster  # noqa: F401  (the session fixture)
