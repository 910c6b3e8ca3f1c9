"""``certkernel rollback`` through the real CLI, and the helper the lead wires restart into."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from certkernel.checkpoints.reverter import Reverter
from certkernel.commands.rollback import rollback
from certkernel.errors import ReverterError
from tests.reverter.procs import REPO
from tests.reverter.tree import snapshot


def _cli(tmp_path: Path, work_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "certkernel", "rollback", *args,
            "--work-dir", str(work_dir),
            "--config-dir", str(tmp_path / "config dir"),
            "--logs-dir", str(tmp_path / "logs"),
        ],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )


def _checkpoint(work_dir: Path, files: list[Path], title: str, new: Path | None = None) -> None:
    roots = [str(work_dir.parent / "root")]  # the conftest's layout
    with Reverter(str(work_dir), lock_timeout=5) as rev:
        rev.add([str(f) for f in files], roots=roots)
        if new is not None:
            rev.register_new([str(new)], roots=roots)
            new.write_text("created by the installer\n")
        for path in files:
            path.write_bytes(path.read_bytes() + f"# {title}\n".encode())
        rev.finalize(title)


def test_cli_rolls_back_one_checkpoint_and_says_what_it_restored(
    tmp_path: Path, work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    new = root / "etc" / "nginx" / "options ssl.conf"
    _checkpoint(work_dir, [files["main"]], "first")
    middle = snapshot(root)
    _checkpoint(work_dir, [files["site"], files["binary"]], "Deployed certificate to example.com", new)

    done = _cli(tmp_path, work_dir, "--checkpoints", "1")

    assert done.returncode == 0, done.stderr
    assert snapshot(root) == middle
    assert "Rolled back 1 checkpoint(s)" in done.stdout
    assert "Deployed certificate to example.com" in done.stdout
    assert f"restored {files['site']}" in done.stdout
    assert f"removed  {new}" in done.stdout
    with Reverter(str(work_dir)) as rev:
        assert [i.title for i in rev.view()] == ["first"]


def test_cli_default_is_one_checkpoint(
    tmp_path: Path, work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    before = snapshot(root)
    _checkpoint(work_dir, [files["main"]], "only")
    done = _cli(tmp_path, work_dir)
    assert done.returncode == 0, done.stderr
    assert snapshot(root) == before


def test_cli_more_checkpoints_than_exist_rolls_back_all_and_says_so(
    tmp_path: Path, work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    before = snapshot(root)
    _checkpoint(work_dir, [files["main"]], "one")
    _checkpoint(work_dir, [files["main"]], "two")
    done = _cli(tmp_path, work_dir, "--checkpoints", "5")
    assert done.returncode == 0, done.stderr
    assert "Only 2 checkpoint(s) exist; rolled back all of them instead of 5." in done.stdout
    assert snapshot(root) == before


def test_cli_with_no_checkpoints_says_there_is_nothing(tmp_path: Path, work_dir: Path) -> None:
    done = _cli(tmp_path, work_dir, "--checkpoints", "2")
    assert done.returncode == 0, done.stderr
    assert "has not modified your configuration" in done.stdout


def test_cli_zero_checkpoints_touches_nothing(
    tmp_path: Path, work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    _checkpoint(work_dir, [files["main"]], "kept")
    after = snapshot(root)
    done = _cli(tmp_path, work_dir, "--checkpoints", "0")
    assert done.returncode == 0, done.stderr
    assert "Nothing rolled back: --checkpoints 0" in done.stdout
    assert snapshot(root) == after


def test_cli_negative_count_is_one_error_line(
    tmp_path: Path, work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    _checkpoint(work_dir, [files["main"]], "kept")
    after = snapshot(root)
    done = _cli(tmp_path, work_dir, "--checkpoints=-1")
    assert done.returncode == 1
    assert done.stderr.strip() == "--checkpoints must be 0 or more, not -1"
    assert snapshot(root) == after


def test_cli_recovers_a_crashed_run_before_rolling_back(
    tmp_path: Path, work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    before = snapshot(root)
    _checkpoint(work_dir, [files["main"]], "finalized")
    rev = Reverter(str(work_dir))
    rev.add([str(files["main"]), str(files["secret"])], roots=[str(root)])  # then "crashed"
    files["main"].write_text("half edited\n")
    files["secret"].write_text("half edited\n")
    rev.close()

    done = _cli(tmp_path, work_dir, "--checkpoints", "1")

    assert done.returncode == 0, done.stderr
    assert "unfinished changes left by an interrupted run" in done.stdout
    assert snapshot(root) == before


def test_restart_runs_once_after_a_rollback_that_changed_files(
    work_dir: Path, files: dict[str, Path]
) -> None:
    calls: list[str] = []
    lines: list[str] = []
    _checkpoint(work_dir, [files["main"]], "one")
    _checkpoint(work_dir, [files["main"]], "two")

    results = rollback(str(work_dir), 2, restart=lambda: calls.append("restart"), notify=lines.append,
                       lock_timeout=5)

    assert [r.title for r in results] == ["two", "one"]
    assert calls == ["restart"]
    assert "Rolled back 2 checkpoint(s)" in lines[0]

    rollback(str(work_dir), 1, restart=lambda: calls.append("restart"), notify=lines.append, lock_timeout=5)
    assert calls == ["restart"]  # nothing restored, no reload


def test_helper_refuses_negative_counts(work_dir: Path) -> None:
    with pytest.raises(ReverterError, match="0 or more"):
        rollback(str(work_dir), -2, notify=lambda _m: None, lock_timeout=5)


def test_cli_a_failed_restart_says_the_files_are_restored_and_not_to_run_it_again(
    tmp_path: Path, work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    """The checkpoint names the installer (recorded by the kernel); its restart
    fails here (no nginx under that root), after the files were restored."""
    before = snapshot(root)
    with Reverter(str(work_dir), lock_timeout=5) as rev:
        rev.add([str(files["main"])], roots=[str(root)],
                installer={"installer": "nginx", "nginx_server_root": str(root / "no nginx")})
        files["main"].write_text("changed\n")
        rev.finalize("changed by nginx")
        assert rev.view()[0].installer == {"installer": "nginx",
                                           "nginx_server_root": str(root / "no nginx")}

    done = _cli(tmp_path, work_dir, "--checkpoints", "1")

    assert done.returncode == 1
    assert snapshot(root) == before
    assert "The files are restored (running rollback again would undo one more checkpoint), " \
           "but restarting nginx failed: " in done.stdout
    assert str(root / "no nginx") in done.stdout
