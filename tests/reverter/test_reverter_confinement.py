"""Checkpoint confinement: restores stay beneath the roots recorded with the checkpoint
and follow no symlink, whatever was planted in the server tree since it was taken."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from certkernel.checkpoints.reverter import Reverter
from certkernel.errors import ReverterError


def _victim(tmp_path: Path) -> tuple[Path, tuple[bytes, int, int]]:
    victim = tmp_path / "outside" / "nginx.conf"
    victim.parent.mkdir(exist_ok=True)
    victim.write_bytes(b"not the installer's\n")
    victim.chmod(0o600)
    st = victim.stat()
    return victim, (victim.read_bytes(), st.st_mode, st.st_ino)


def _same(victim: Path, before: tuple[bytes, int, int]) -> bool:
    st = os.lstat(victim)
    return (victim.read_bytes(), st.st_mode, st.st_ino) == before


def test_restore_replaces_a_planted_symlink_and_leaves_its_target(
    reverter: Reverter, root: Path, tmp_path: Path, files: dict[str, Path]
) -> None:
    victim, before = _victim(tmp_path)
    original = files["main"].read_bytes()
    reverter.add([str(files["main"])], roots=[str(root)])
    files["main"].unlink()
    files["main"].symlink_to(victim)
    reverter.finalize("swap")

    result = reverter.rollback(1)[0]

    assert _same(victim, before)
    assert not files["main"].is_symlink()
    assert files["main"].read_bytes() == original
    assert stat.S_IMODE(files["main"].stat().st_mode) == 0o644
    assert result.restored == [str(files["main"])] and result.refused == []


def test_restore_through_a_symlinked_parent_is_refused_and_reported(
    reverter: Reverter, root: Path, tmp_path: Path, files: dict[str, Path]
) -> None:
    victim, before = _victim(tmp_path)
    nginx = files["main"].parent
    reverter.add([str(files["main"]), str(files["binary"])], roots=[str(root)])
    nginx.rename(nginx.with_name("nginx.moved"))
    nginx.symlink_to(victim.parent)
    files["binary"].write_bytes(b"changed")
    reverter.finalize("parent swap")

    result = reverter.rollback(1)[0]

    assert _same(victim, before)
    assert result.restored == [str(files["binary"])]  # the rest is still restored
    assert len(result.refused) == 1
    assert result.refused[0].startswith(f"{files['main']}: ")
    assert "symbolic link" in result.refused[0]
    assert reverter.view() == []


def test_restore_never_creates_a_missing_directory(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    reverter.add([str(files["script"])], roots=[str(root)])
    files["script"].unlink()
    files["script"].parent.rmdir()
    reverter.finalize("dir gone")

    result = reverter.rollback(1)[0]

    assert not files["script"].parent.exists()
    assert result.refused == [f"{files['script']}: its directory no longer exists "
                              "(the kernel creates none)"]


def test_a_new_file_replaced_by_a_symlink_is_removed_not_its_target(
    reverter: Reverter, root: Path, tmp_path: Path
) -> None:
    victim, before = _victim(tmp_path)
    new = root / "etc" / "new.conf"
    (root / "etc").mkdir()
    reverter.register_new([str(new)], roots=[str(root)])
    new.symlink_to(victim)
    reverter.finalize("new")

    assert reverter.rollback(1)[0].removed == [str(new)]

    assert not os.path.lexists(new)
    assert _same(victim, before)


def test_restore_is_bounded_by_the_roots_recorded_with_the_checkpoint(
    reverter: Reverter, root: Path, work_dir: Path, tmp_path: Path, files: dict[str, Path]
) -> None:
    """ROOTS travels with the checkpoint; a path listed beyond them is not written."""
    victim, before = _victim(tmp_path)
    reverter.add([str(files["main"])], roots=[str(root / "etc")])
    name = reverter.finalize("one root")
    cp = work_dir / "backups" / str(name)
    assert (cp / "ROOTS").read_text() == f"{root / 'etc'}\n"
    (cp / "FILEPATHS").write_text(f"{files['main']}\n{victim}\n")
    (cp / "nginx.conf_1").write_bytes(b"evil")

    result = reverter.rollback(1)[0]

    assert _same(victim, before)
    assert result.refused == [f"{victim}: {victim} is outside the checkpoint's roots ({root / 'etc'})"]


def test_roots_overlapping_the_work_dir_are_refused(
    reverter: Reverter, work_dir: Path, files: dict[str, Path]
) -> None:
    for roots in ([str(work_dir)], [str(work_dir.parent)], [str(work_dir / "plugins" / "x")], ["/"], []):
        with pytest.raises(ReverterError):
            reverter.add([str(files["main"])], roots=roots)
    assert not (work_dir / "IN_PROGRESS").exists()


def test_a_file_with_two_hard_links_is_not_checkpointed(
    reverter: Reverter, root: Path, files: dict[str, Path]
) -> None:
    os.link(files["main"], root / "etc" / "hardlink.conf")
    with pytest.raises(ReverterError, match="2 hard links"):
        reverter.add([str(root / "etc" / "hardlink.conf")], roots=[str(root)])
