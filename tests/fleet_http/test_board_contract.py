"""The ``ChallengeBoard`` contract (certkernel.interfaces), checked against every board.

What the kernel and the responder rely on: a published key authorization
is found by another handle on the same board, a withdrawn one is gone,
repeating either changes nothing, values that are not ACME's shape are
refused with ``ChallengeRefused`` before anything is stored, a lookup of
anything else is ``None``, and readers racing a writer see whole values.
Boards are listed in ``tests/infra/board_backends.py``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from certkernel.errors import ChallengeRefused, StorageError
from certkernel.interfaces import ChallengeBoard
from tests.infra.board_backends import (
    BOARDS,
    KEY_AUTHORIZATION,
    NEEDS,
    TOKEN,
    key_authorization,
    token,
)


@pytest.fixture(params=sorted(BOARDS))
def kind(request: pytest.FixtureRequest) -> str:
    if request.param in NEEDS:
        request.getfixturevalue(NEEDS[request.param])
    return str(request.param)


def test_a_board_is_a_challenge_board(kind: str, tmp_path: Path) -> None:
    assert isinstance(BOARDS[kind](tmp_path), ChallengeBoard)


def test_published_is_found_by_another_handle_and_withdrawn_is_gone(kind: str,
                                                                   tmp_path: Path) -> None:
    writer, reader = BOARDS[kind](tmp_path), BOARDS[kind](tmp_path)
    assert reader.lookup(TOKEN) is None
    writer.publish(TOKEN, KEY_AUTHORIZATION)
    assert reader.lookup(TOKEN) == KEY_AUTHORIZATION
    writer.withdraw(TOKEN)
    assert reader.lookup(TOKEN) is None


def test_publish_and_withdraw_are_idempotent(kind: str, tmp_path: Path) -> None:
    board = BOARDS[kind](tmp_path)
    board.withdraw(TOKEN)  # never published: no error
    board.publish(TOKEN, KEY_AUTHORIZATION)
    board.publish(TOKEN, KEY_AUTHORIZATION)
    assert board.lookup(TOKEN) == KEY_AUTHORIZATION
    board.withdraw(TOKEN)
    board.withdraw(TOKEN)
    assert board.lookup(TOKEN) is None


def test_tokens_are_independent(kind: str, tmp_path: Path) -> None:
    board = BOARDS[kind](tmp_path)
    for n in range(3):
        board.publish(token(n), key_authorization(token(n)))
    board.withdraw(token(1))
    assert [board.lookup(token(n)) for n in range(3)] == [
        key_authorization(token(0)), None, key_authorization(token(2))]


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b", "..", ".", "", "tok en", "tök",
                                 "a" * 300, "abc%2f..", ".tmp-abc"])
def test_a_token_outside_the_alphabet_is_refused_and_never_found(kind: str, tmp_path: Path,
                                                                 bad: str) -> None:
    board = BOARDS[kind](tmp_path)
    with pytest.raises(ChallengeRefused, match="is not an ACME token"):
        board.publish(bad, f"{bad}.{KEY_AUTHORIZATION.split('.')[1]}")
    with pytest.raises(ChallengeRefused, match="is not an ACME token"):
        board.withdraw(bad)
    assert board.lookup(bad) is None


@pytest.mark.parametrize("bad", ["", TOKEN, f"{TOKEN}.", f"{token(9)}.abc", f"{TOKEN}.a/b",
                                 f"{TOKEN}.abc\n<script>", f"{TOKEN}.{'a' * 200}"])
def test_a_key_authorization_not_for_its_token_is_refused(kind: str, tmp_path: Path,
                                                          bad: str) -> None:
    board = BOARDS[kind](tmp_path)
    with pytest.raises(ChallengeRefused, match="is not '"):
        board.publish(TOKEN, bad)
    assert board.lookup(TOKEN) is None


def test_challenge_refused_is_a_storage_error() -> None:
    assert issubclass(ChallengeRefused, StorageError)


def test_readers_racing_a_writer_see_whole_values(kind: str, tmp_path: Path) -> None:
    writer, reader = BOARDS[kind](tmp_path), BOARDS[kind](tmp_path)
    seen: set[str | None] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(reader.lookup(TOKEN))

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(150):
            value = f"{TOKEN}.{'A' * (n % 40 + 1)}"
            writer.publish(TOKEN, value)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert seen - {None} <= {f"{TOKEN}.{'A' * (k + 1)}" for k in range(40)}
    assert len(seen - {None}) > 1
