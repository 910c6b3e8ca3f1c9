"""Atomic writes, modes, directories and link switches on a real file system."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from certkernel import fsutil
from certkernel.errors import StorageError


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_mode_ignores_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        fsutil.atomic_write(str(tmp_path / "key.pem"), b"secret", 0o600)
    finally:
        os.umask(old)
    old = os.umask(0o077)
    try:
        fsutil.atomic_write(str(tmp_path / "cert.pem"), "public", 0o644)
    finally:
        os.umask(old)
    assert mode(tmp_path / "key.pem") == 0o600
    assert mode(tmp_path / "cert.pem") == 0o644
    assert (tmp_path / "cert.pem").read_text() == "public"


def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    inode = os.stat(target).st_ino
    fsutil.atomic_write(str(target), b"new content")
    assert target.read_bytes() == b"new content"
    assert os.stat(target).st_ino != inode  # replaced by rename, not rewritten in place
    assert os.listdir(tmp_path) == ["f"]


def test_atomic_write_into_missing_dir_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot write .*/nodir/f"):
        fsutil.atomic_write(str(tmp_path / "nodir" / "f"), b"x")


def test_group_copy(tmp_path: Path) -> None:
    prev = tmp_path / "prev"
    prev.write_text("k")
    group = 4 if os.geteuid() == 0 else os.getgroups()[-1]
    os.chown(prev, -1, group)
    os.chmod(prev, 0o640)
    new_mode = fsutil.compute_private_key_mode(str(prev))
    fsutil.atomic_write(str(tmp_path / "new"), b"k2", new_mode, copy_group_from=str(prev))
    assert os.stat(tmp_path / "new").st_gid == group
    assert mode(tmp_path / "new") == 0o640
    assert fsutil.compute_private_key_mode(None) == 0o600
    assert fsutil.compute_private_key_mode(str(tmp_path / "absent")) == 0o600


def test_make_dirs(tmp_path: Path) -> None:
    fsutil.make_dirs(str(tmp_path / "a" / "b" / "c"), 0o700)
    for part in ("a", "a/b", "a/b/c"):
        assert mode(tmp_path / part) == 0o700
    os.chmod(tmp_path / "a", 0o755)
    fsutil.make_dirs(str(tmp_path / "a" / "b"), 0o700)
    assert mode(tmp_path / "a") == 0o755  # an admin's choice is kept
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="exists and is not a directory"):
        fsutil.make_dirs(str(tmp_path / "file" / "sub"))


def test_switch_symlink_relative_and_atomic(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "live").mkdir()
    (tmp_path / "archive" / "cert1.pem").write_text("1")
    (tmp_path / "archive" / "cert2.pem").write_text("2")
    link = tmp_path / "live" / "cert.pem"
    fsutil.switch_symlink(str(link), str(tmp_path / "archive" / "cert1.pem"))
    assert os.readlink(link) == "../archive/cert1.pem"
    fsutil.switch_symlink(str(link), str(tmp_path / "archive" / "cert2.pem"))
    assert link.read_text() == "2"
    assert os.listdir(tmp_path / "live") == ["cert.pem"]


def test_quick_imports_stay_quick() -> None:
    """``certificates``/``renew`` import storage; it must not drag in heavy libraries."""
    code = (
        "import sys, certkernel.lineages.storage, certkernel.names, certkernel.lineages.renewal_conf, "
        "certkernel.runtime.plugin_storage, certkernel.fsutil\n"
        "heavy = [m for m in ('cryptography', 'configobj', 'acme', 'josepy', 'requests') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
