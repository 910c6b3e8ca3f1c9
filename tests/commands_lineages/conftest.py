"""Per-test installation dirs and the dns-01 hook for the session Pebble."""

from tests.infra.cli_fixtures import dirs, hook  # noqa: F401 (fixtures)
