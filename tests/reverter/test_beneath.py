"""certkernel.beneath: opens that never follow a symlink, with openat2 and with the walk.

Every case runs twice: through ``openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)``
and through the ``O_NOFOLLOW`` walk used where openat2 is missing.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from certkernel.beneath import beneath, open_beneath, open_dir, open_parent, openat2_available
from certkernel.errors import PathRefused

MODES = [pytest.param(False, id="openat2"), pytest.param(True, id="walk")]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "conf.d").mkdir(parents=True)
    (root / "conf.d" / "site.conf").write_text("inside\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("victim\n")
    return root


def _read(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def test_openat2_is_there() -> None:
    assert openat2_available()  # TEST-INFRA.md: this kernel has syscall 437


@pytest.mark.parametrize("walk", MODES)
def test_plain_file_beneath_opens(tree: Path, walk: bool) -> None:
    fd = open_dir(str(tree), walk=walk)
    try:
        assert _read(open_beneath(fd, "conf.d/site.conf", os.O_RDONLY, walk=walk)) == b"inside\n"
    finally:
        os.close(fd)


@pytest.mark.parametrize("walk", MODES)
def test_symlink_in_the_middle_is_refused(tree: Path, walk: bool) -> None:
    os.symlink(str(tree.parent / "outside"), tree / "link")
    fd = open_dir(str(tree), walk=walk)
    try:
        with pytest.raises(PathRefused, match="symbolic link"):
            open_beneath(fd, "link/victim", os.O_RDONLY, walk=walk)
    finally:
        os.close(fd)


@pytest.mark.parametrize("walk", MODES)
def test_relative_symlink_staying_inside_is_refused_too(tree: Path, walk: bool) -> None:
    os.symlink("conf.d", tree / "alias")
    fd = open_dir(str(tree), walk=walk)
    try:
        with pytest.raises(PathRefused, match="symbolic link"):
            open_beneath(fd, "alias/site.conf", os.O_RDONLY, walk=walk)
    finally:
        os.close(fd)


@pytest.mark.parametrize("walk", MODES)
def test_final_symlink_is_refused_even_for_create(tree: Path, walk: bool) -> None:
    victim = tree.parent / "outside" / "victim"
    os.symlink(str(victim), tree / "conf.d" / "new.conf")
    fd = open_dir(str(tree), walk=walk)
    try:
        with pytest.raises(PathRefused):
            open_beneath(fd, "conf.d/new.conf", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, walk=walk)
    finally:
        os.close(fd)
    assert victim.read_text() == "victim\n"


@pytest.mark.parametrize("walk", MODES)
def test_absolute_symlink_is_refused(tree: Path, walk: bool) -> None:
    os.symlink("/etc/passwd", tree / "conf.d" / "passwd")
    fd = open_dir(str(tree), walk=walk)
    try:
        with pytest.raises(PathRefused, match="symbolic link"):
            open_beneath(fd, "conf.d/passwd", os.O_RDONLY, walk=walk)
    finally:
        os.close(fd)


@pytest.mark.parametrize("walk", MODES)
def test_dotdot_and_absolute_are_refused(tree: Path, walk: bool) -> None:
    fd = open_dir(str(tree), walk=walk)
    try:
        for rel in ("../outside/victim", "conf.d/../../outside/victim", "/etc/passwd",
                    "conf.d//site.conf", "./conf.d/site.conf"):
            with pytest.raises(PathRefused):
                open_beneath(fd, rel, os.O_RDONLY, walk=walk)
    finally:
        os.close(fd)


@pytest.mark.parametrize("walk", MODES)
def test_root_reached_through_a_symlink_is_refused(tree: Path, walk: bool) -> None:
    os.symlink(str(tree), tree.parent / "root-link")
    with pytest.raises(PathRefused):
        open_dir(str(tree.parent / "root-link"), walk=walk)


@pytest.mark.parametrize("walk", MODES)
def test_open_parent_creates_nothing(tree: Path, walk: bool) -> None:
    with pytest.raises(FileNotFoundError):
        open_parent(str(tree), str(tree / "missing" / "x.conf"), walk=walk)
    assert not (tree / "missing").exists()
    fd, name = open_parent(str(tree), str(tree / "conf.d" / "site.conf"), walk=walk)
    try:
        assert name == "site.conf"
        assert os.stat(name, dir_fd=fd).st_ino == (tree / "conf.d" / "site.conf").stat().st_ino
    finally:
        os.close(fd)


def test_beneath_is_a_strict_string_check() -> None:
    assert beneath("/etc/nginx", "/etc/nginx/sites/a") == "sites/a"
    for path in ("/etc/nginx", "/etc/nginx-evil/a", "/etc/nginx/../passwd", "/etc/passwd"):
        with pytest.raises(PathRefused):
            beneath("/etc/nginx", path)


@pytest.mark.parametrize("walk", MODES)
def test_a_directory_swapped_for_a_symlink_never_lets_the_open_out(tree: Path, walk: bool) -> None:
    """A racer flips conf.d between a directory and a symlink out of the tree
    while opens run: every open gives the inside file or a refusal, never the
    victim. (A check-then-open would sometimes return the victim here.)"""
    outside = tree.parent / "outside"
    os.symlink("victim", outside / "site.conf")
    stop = threading.Event()

    def flip() -> None:
        real, link, spare = tree / "conf.d", tree / "conf.link", tree / "conf.real"
        os.symlink(str(outside), link)
        while not stop.is_set():
            os.rename(real, spare)
            os.rename(link, real)
            os.rename(real, link)
            os.rename(spare, real)

    racer = threading.Thread(target=flip)
    racer.start()
    seen: set[bytes] = set()
    try:
        fd = open_dir(str(tree), walk=walk)
        try:
            for _ in range(3000):
                try:
                    seen.add(_read(open_beneath(fd, "conf.d/site.conf", os.O_RDONLY, walk=walk)))
                except (PathRefused, FileNotFoundError):
                    seen.add(b"refused")
        finally:
            os.close(fd)
    finally:
        stop.set()
        racer.join(10)
    assert b"victim\n" not in seen
    assert b"inside\n" in seen
