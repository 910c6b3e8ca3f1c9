"""The implementations of ``certkernel.interfaces.ChallengeBoard`` the contract suite runs against.

``tests/fleet_http/test_board_contract.py`` is parametrized over
:data:`BOARDS`: a second board (the fleet store's shared one) is added here
and must pass the same tests. A backend is a function ``(base_dir) ->
ChallengeBoard``; two calls with the same ``base_dir`` are two handles on
one board (as the kernel publishing and a responder reading would have).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from certkernel.fleet.board import PgBoard
from certkernel.fleet.challenge_board import LocalBoard
from certkernel.fleet.connect import Database, StoreSettings
from certkernel.interfaces import ChallengeBoard
from tests.infra.fleet import fleet_files


def _local(base: Path) -> ChallengeBoard:
    return LocalBoard(str(base / "work" / "http01-board"))


def _postgresql(base: Path) -> ChallengeBoard:
    """Fleet mode's shared board: the store database of folder ``base`` (needs ``pg_cluster``)."""
    files = fleet_files(base)
    return PgBoard(Database.open(StoreSettings(files.url, str(files.key_file),
                                               str(files.password_file))))


BOARDS: dict[str, Callable[[Path], ChallengeBoard]] = {"local": _local,
                                                       "postgresql": _postgresql}
# Boards whose tests need a session fixture first (the fixture's name).
NEEDS: dict[str, str] = {"postgresql": "pg_cluster"}

# A token and key authorization of the shape Pebble sends (43 base64url characters each).
TOKEN = "Xq3gHnJvTq1lK2aW0bYc8dEfGhIjKlMnOpQrStUvWxY"
THUMBPRINT = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
KEY_AUTHORIZATION = f"{TOKEN}.{THUMBPRINT}"


def token(n: int) -> str:
    """A distinct valid token per ``n``."""
    return f"{n:04d}{TOKEN[4:]}"


def key_authorization(tok: str) -> str:
    return f"{tok}.{THUMBPRINT}"
