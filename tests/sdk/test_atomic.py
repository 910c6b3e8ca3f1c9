"""certkernel.sdk.atomic: a file is replaced whole or not at all, and never through a link."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from certkernel.sdk import MisconfigurationError
from certkernel.sdk.atomic import temp_name, write_atomic

REPO = Path(__file__).resolve().parents[2]


def test_new_file_gets_0644_and_the_bytes(tmp_path: Path) -> None:
    target = tmp_path / "site.conf"
    write_atomic(target, "server {}\n")
    assert target.read_text() == "server {}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"]


def test_existing_file_keeps_its_mode_unless_one_is_given(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    target.chmod(0o600)
    write_atomic(target, b"new")
    assert (target.read_bytes(), stat.S_IMODE(target.stat().st_mode)) == (b"new", 0o600)
    write_atomic(target, b"newer", mode=0o640)
    assert (target.read_bytes(), stat.S_IMODE(target.stat().st_mode)) == (b"newer", 0o640)


def test_a_symlink_target_is_refused_not_followed(tmp_path: Path) -> None:
    """Attack: the file to rewrite was swapped for a link to a file the plugin must not touch."""
    victim = tmp_path / "shadow"
    victim.write_text("root:x:0:0\n")
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "site.conf").symlink_to(victim)
    with pytest.raises(MisconfigurationError, match=r"site\.conf is a symbolic link; not written"):
        write_atomic(tmp_path / "www" / "site.conf", "pwned\n")
    assert victim.read_text() == "root:x:0:0\n"
    assert (tmp_path / "www" / "site.conf").is_symlink()
    assert sorted(p.name for p in (tmp_path / "www").iterdir()) == ["site.conf"]


def test_a_planted_link_at_the_temporary_name_is_not_written_through(tmp_path: Path) -> None:
    """Attack: the temporary name is predictable, so a link is planted there first."""
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / temp_name("site.conf")).symlink_to(victim)
    write_atomic(tmp_path / "site.conf", "new\n")
    assert victim.read_text() == "keep\n"
    assert (tmp_path / "site.conf").read_text() == "new\n"
    assert not (tmp_path / "site.conf").is_symlink()


def test_dir_fd_writes_one_name_inside_that_directory(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        write_atomic("a.conf", b"x", dir_fd=fd)
        with pytest.raises(ValueError, match="one name"):
            write_atomic("../escape", b"x", dir_fd=fd)
    finally:
        os.close(fd)
    assert (tmp_path / "a.conf").read_bytes() == b"x"
    assert not (tmp_path.parent / "escape").exists()


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    """A real short write: RLIMIT_FSIZE makes the kernel refuse bytes past 4 KiB (EFBIG)."""
    target = tmp_path / "nginx.conf"
    target.write_text("worker_processes 1;\n")
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "from certkernel.sdk.atomic import write_atomic\n"
        "try:\n"
        "    write_atomic(sys.argv[1], b'#' * 100_000)\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                         text=True, timeout=60, check=False, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "27"  # EFBIG
    assert target.read_text() == "worker_processes 1;\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nginx.conf"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_in_place_when_the_directory_may_not_be_written(tmp_path: Path) -> None:
    """A sandboxed writer may rewrite its file but not create one beside it (Landlock's
    [confine] write_files); here a root-owned folder and a file owned by nobody."""
    folder = tmp_path / "conf"
    folder.mkdir(mode=0o755)
    target = folder / "options.conf"
    target.write_text("old\n")
    os.chown(target, 65534, 65534)
    code = ("import sys; from certkernel.sdk.atomic import write_atomic; "
            "write_atomic(sys.argv[1], 'new\\n', in_place_if_denied=sys.argv[2] == '1')")
    runs = []
    for allowed in ("0", "1"):
        runs.append(subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
             sys.executable, "-c", code, str(target), allowed],
            capture_output=True, text=True, timeout=60, check=False, cwd="/"))
    assert runs[0].returncode == 1 and "PermissionError" in runs[0].stderr
    assert runs[1].returncode == 0, runs[1].stderr
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in folder.iterdir()) == ["options.conf"]
