"""The local board's defences: what an entry planted in its directory cannot make it do.

The responder reads the board for anyone on the network, as root until it
drops privileges, so each test plants something a hostile local process or
a confused admin could leave there and checks that nothing outside the
board (or not shaped like a key authorization) is ever read, and that
publishing never writes through a planted link.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from certkernel.config import Config
from certkernel.errors import StorageError
from certkernel.fleet.challenge_board import BOARD_DIR, LocalBoard, board_for
from tests.infra.board_backends import KEY_AUTHORIZATION, TOKEN


@pytest.fixture
def board_dir(tmp_path: Path) -> Path:
    return tmp_path / "work" / BOARD_DIR


@pytest.fixture
def board(board_dir: Path) -> LocalBoard:
    b = LocalBoard(str(board_dir))
    b.open()
    return b


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the board that has exactly the shape of a valid answer."""
    secret = tmp_path / "outside.txt"
    secret.write_text(KEY_AUTHORIZATION)
    return secret


def test_board_for_is_the_work_dir_board(tmp_path: Path) -> None:
    config = Config(work_dir=str(tmp_path / "w"))
    board = board_for(config)
    board.publish(TOKEN, KEY_AUTHORIZATION)
    written = tmp_path / "w" / BOARD_DIR / TOKEN
    assert written.read_text() == KEY_AUTHORIZATION
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert stat.S_IMODE(written.parent.stat().st_mode) == 0o755


def test_the_constructor_touches_nothing(board_dir: Path) -> None:
    LocalBoard(str(board_dir))
    assert not board_dir.parent.exists()


def test_a_symlink_under_a_token_name_is_not_followed(board: LocalBoard, board_dir: Path,
                                                      outside: Path) -> None:
    (board_dir / TOKEN).symlink_to(outside)
    assert board.lookup(TOKEN) is None


def test_a_symlink_to_a_system_file_is_not_followed(board: LocalBoard, board_dir: Path) -> None:
    (board_dir / TOKEN).symlink_to("/etc/passwd")
    assert board.lookup(TOKEN) is None


def test_a_hard_link_to_a_file_elsewhere_is_not_served(board: LocalBoard, board_dir: Path,
                                                       outside: Path) -> None:
    os.link(outside, board_dir / TOKEN)
    assert board.lookup(TOKEN) is None


def test_a_fifo_under_a_token_name_does_not_hang(board: LocalBoard, board_dir: Path) -> None:
    os.mkfifo(board_dir / TOKEN)
    result: list[str | None] = []
    reader = threading.Thread(target=lambda: result.append(board.lookup(TOKEN)), daemon=True)
    reader.start()
    reader.join(10)
    assert result == [None]


def test_a_directory_under_a_token_name_is_not_served(board: LocalBoard, board_dir: Path) -> None:
    (board_dir / TOKEN).mkdir()
    assert board.lookup(TOKEN) is None


def test_content_that_is_not_this_tokens_answer_is_not_served(board: LocalBoard,
                                                              board_dir: Path) -> None:
    (board_dir / TOKEN).write_text("root:x:0:0:root:/root:/bin/bash\n")
    assert board.lookup(TOKEN) is None


def test_publish_replaces_a_planted_symlink_and_leaves_its_target_alone(
        board: LocalBoard, board_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "victim.conf"
    target.write_text("precious\n")
    (board_dir / TOKEN).symlink_to(target)
    board.publish(TOKEN, KEY_AUTHORIZATION)
    assert target.read_text() == "precious\n"
    assert not (board_dir / TOKEN).is_symlink()
    assert board.lookup(TOKEN) == KEY_AUTHORIZATION


def test_no_temporary_file_is_left_behind(board: LocalBoard, board_dir: Path) -> None:
    board.publish(TOKEN, KEY_AUTHORIZATION)
    assert os.listdir(board_dir) == [TOKEN]


def test_a_board_directory_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o755)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / BOARD_DIR).symlink_to(real)
    with pytest.raises(StorageError, match="is a symbolic link; remove it"):
        LocalBoard(str(tmp_path / "work" / BOARD_DIR)).publish(TOKEN, KEY_AUTHORIZATION)
    assert list(real.iterdir()) == []


def test_a_board_directory_others_may_write_is_refused(board_dir: Path) -> None:
    board_dir.mkdir(parents=True)
    board_dir.chmod(0o777)
    with pytest.raises(StorageError, match="writable by no one else; fix it with `chown"):
        LocalBoard(str(board_dir)).lookup(TOKEN)


def test_a_handle_keeps_reading_the_directory_it_opened(board: LocalBoard, board_dir: Path,
                                                        tmp_path: Path) -> None:
    """The responder opens the board, then drops privileges: its descriptor stays valid."""
    LocalBoard(str(board_dir)).publish(TOKEN, KEY_AUTHORIZATION)
    board_dir.rename(tmp_path / "moved")
    assert board.lookup(TOKEN) == KEY_AUTHORIZATION
