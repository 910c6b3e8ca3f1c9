"""certkernel.sdk.safepath on its own: the moves a directory's owner can make
between our check and our use, each met without following a link."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel.errors import PluginError
from certkernel.sdk import safepath


@pytest.fixture
def root(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    path = tmp_path / "www"
    path.mkdir()
    fd = safepath.open_dir(str(path))
    yield path, fd
    os.close(fd)


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\0b"])
def test_only_plain_names(root: tuple[Path, int], name: str) -> None:
    _, fd = root
    with pytest.raises(PluginError, match="must be one plain name"):
        safepath.make_dir_at(fd, name, 0o755, name)


def test_made_directory_has_the_mode_whatever_the_umask(root: tuple[Path, int]) -> None:
    path, fd = root
    old = os.umask(0o077)
    try:
        sub, made = safepath.make_dir_at(fd, "d", 0o755, "d")
    finally:
        os.umask(old)
    os.close(sub)
    assert made == safepath.FileId.of(os.stat(path / "d"))
    assert stat.S_IMODE(os.stat(path / "d").st_mode) == 0o755
    again, made_again = safepath.make_dir_at(fd, "d", 0o755, "d")
    os.close(again)
    assert made_again is None, "an existing directory is used, not claimed as ours"


def test_a_link_to_a_directory_is_refused(root: tuple[Path, int], tmp_path: Path) -> None:
    path, fd = root
    (path / "d").symlink_to(tmp_path)
    with pytest.raises(PluginError, match="Refusing to use shown/d: it is a symbolic link"):
        safepath.make_dir_at(fd, "d", 0o755, "shown/d")


def test_removes_only_the_directory_it_made(root: tuple[Path, int]) -> None:
    path, fd = root
    sub, made = safepath.make_dir_at(fd, "d", 0o755, "d")
    os.close(sub)
    assert made is not None
    (path / "d").rename(path / "ours-moved")
    (path / "d").mkdir()  # another directory of the same name
    assert safepath.remove_dir_at(fd, "d", made) is False
    assert (path / "d").is_dir()
    (path / "d").rmdir()
    (path / "d").symlink_to(path / "ours-moved")
    assert safepath.remove_dir_at(fd, "d", made) is False
    assert (path / "ours-moved").is_dir(), "the link's target is untouched"
    (path / "d").unlink()
    (path / "ours-moved").rename(path / "d")
    (path / "d" / "theirs").write_text("x")
    assert safepath.remove_dir_at(fd, "d", made) is False, "not empty: kept"
    (path / "d" / "theirs").unlink()
    assert safepath.remove_dir_at(fd, "d", made) is True
    assert not (path / "d").exists()


def test_new_file_replaces_a_planted_link_and_has_the_exact_mode(root: tuple[Path, int],
                                                                tmp_path: Path) -> None:
    path, fd = root
    target = tmp_path / "target"
    target.write_text("keep")
    (path / "f").symlink_to(target)
    old = os.umask(0)
    try:
        safepath.create_file_at(fd, "f", b"new", 0o644)
    finally:
        os.umask(old)
    assert target.read_text() == "keep"
    st = (path / "f").lstat()
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644
    assert (path / "f").read_bytes() == b"new"
    assert safepath.read_file_at(fd, "f", 100) == b"new"
    os.mkfifo(path / "fifo")
    assert safepath.read_file_at(fd, "fifo", 100) is None, "a FIFO is not read (no hang)"
