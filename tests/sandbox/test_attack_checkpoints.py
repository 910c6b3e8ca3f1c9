"""Issue 12, item 1: a sandboxed plugin tries to make the root kernel write,
create or delete files through the checkpoint calls.

The kernel runs as root (a real ``certkernel certonly`` against Pebble); the
attacker (checkpoint_attacker.py) is a real plugin process running as the
unprivileged test user, installed as a third-party plugin. Its root is a
folder that user owns; the victims are root-owned 0600 files outside every
root. After each attack ``certkernel rollback`` runs as root too, and every
victim must be exactly as before: bytes, mode, owner, inode.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
from pathlib import Path

import pytest

from tests.infra.pebble import Pebble
from tests.infra.sandbox_env import REPO, Kernel, world_dir
from tests.infra.sandbox_run import common

SCRIPT = REPO / "tests" / "sandbox" / "checkpoint_attacker.py"


def manifest(roots: bool) -> str:
    needs = '[needs]\ncheckpoint_roots = ["root"]\n' if roots else ""
    return f'''
name = "ckattack"
description = "Tries to reach files outside its roots through checkpoints"
version = "0.1.0"
roles = ["authenticator"]
challenges = ["http-01"]
command = ["{{python}}", "{SCRIPT}"]

[[options]]
name = "scenario"
type = "str"
default = ""

[[options]]
name = "root"
type = "path"
default = ""

[[options]]
name = "victim"
type = "path"
default = ""

{needs}
[sandbox]
user = "certkernel-test"
'''


def install(root: Path, name: str, roots: bool) -> dict[str, str]:
    xdg = world_dir(root, name)
    folder = xdg / "certkernel" / "plugins" / "ckattack"
    folder.mkdir(parents=True, exist_ok=True)
    for path in (xdg / "certkernel", xdg / "certkernel" / "plugins", folder):
        path.chmod(0o755)
    (folder / "plugin.toml").write_text(manifest(roots))
    return {"XDG_DATA_HOME": str(xdg)}


Fingerprint = tuple[bytes, int, int, int, int]


def fingerprint(path: Path) -> Fingerprint:
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode)
    return (path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_ino)


class Scene:
    """One attack's folders: the kernel's dirs, the plugin's root, the victims."""

    def __init__(self, kernel: Kernel, user: str, name: str) -> None:
        self.kernel = kernel
        self.dirs = kernel.dirs(name)
        pw = pwd.getpwnam(user)
        # The plugin runs as that user: its state dir is <name>.uid-N (never a root run's).
        self.state = Path(self.dirs[3]) / "plugins" / f"ckattack.uid-{pw.pw_uid}"
        self.root = world_dir(kernel.root, f"{name}-site")
        os.chown(self.root, pw.pw_uid, pw.pw_gid)
        victims = world_dir(kernel.root, f"{name}-victims")
        self.victims = [victims / "a.conf", victims / "b.conf"]
        for path in self.victims:
            path.write_bytes(b"root's own bytes: " + path.name.encode() + b"\n")
            path.chmod(0o600)
        self.before = [fingerprint(p) for p in self.victims]

    def attack(self, pebble: Pebble, env: dict[str, str], scenario: str) -> dict[str, str]:
        result = self.kernel.run(
            "certonly", "-a", "ckattack", "--ckattack-scenario", scenario,
            "--ckattack-root", str(self.root), "--ckattack-victim", str(self.victims[0]),
            "-d", f"{scenario}.example.org", *self.dirs, *common(pebble), **env)
        assert result.returncode == 1, result.stderr
        assert f"ckattack: {scenario} finished" in result.stderr, result.stderr
        report: dict[str, str] = json.loads(
            (self.state / "report.json").read_text())
        return report

    def rollback(self) -> str:
        result = self.kernel.run("rollback", "--checkpoints", "5", *self.dirs)
        assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr

    def assert_victims_unchanged(self) -> None:
        assert [fingerprint(p) for p in self.victims] == self.before


@pytest.fixture(scope="module")
def with_roots(kernel: Kernel) -> dict[str, str]:
    return install(kernel.root, "xdg-ckattack", roots=True)


@pytest.fixture(scope="module")
def without_roots(kernel: Kernel) -> dict[str, str]:
    return install(kernel.root, "xdg-ckattack-noroots", roots=False)


def test_outside_paths_are_refused_and_rollback_deletes_nothing(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, with_roots: dict[str, str]) -> None:
    scene = Scene(kernel, sandbox_user, "cp-outside")
    report = scene.attack(pebble, with_roots, "outside")

    assert report["add_mine"] == "ok"
    assert report["register_new_victim"].startswith("InvalidParams: ")
    assert "is outside the roots it may change" in report["register_new_victim"]
    assert report["add_victim"].startswith("InvalidParams: ")
    assert report["register_new_via_link"].startswith("InvalidParams: ")
    assert "symbolic link" in report["register_new_via_link"]
    assert report["add_via_link"].startswith("InvalidParams: ")
    assert "symbolic link" in report["add_via_link"]

    said = scene.rollback()
    # The one legitimate change was restored: the rollback really ran.
    assert (scene.root / "mine.conf").read_text() == "mine before\n"
    assert f"restored {scene.root / 'mine.conf'}" in said
    scene.assert_victims_unchanged()


def test_a_checkpointed_file_swapped_for_a_symlink_is_replaced_not_followed(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, with_roots: dict[str, str]) -> None:
    scene = Scene(kernel, sandbox_user, "cp-swap")
    report = scene.attack(pebble, with_roots, "swap")

    assert report == {"add_temp": "ok", "add_perm": "ok", "revert_temporary": "ok"}
    scene.assert_victims_unchanged()
    # revert_temporary put the plugin's own bytes back in its root, as a file.
    temp = scene.root / "temp.conf"
    assert not temp.is_symlink()
    assert temp.read_text() == "plugin bytes for temp.conf\n"
    assert temp.stat().st_uid == pwd.getpwnam(sandbox_user).pw_uid

    scene.rollback()  # the permanent checkpoint, restored by root later
    scene.assert_victims_unchanged()
    perm = scene.root / "perm.conf"
    assert not perm.is_symlink()
    assert perm.read_text() == "plugin bytes for perm.conf\n"
    assert stat.S_IMODE(perm.stat().st_mode) == 0o666


def test_a_parent_directory_swapped_for_a_symlink_is_refused(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, with_roots: dict[str, str]) -> None:
    scene = Scene(kernel, sandbox_user, "cp-parent")
    report = scene.attack(pebble, with_roots, "parent")

    assert report == {"add": "ok", "revert_temporary": "ok"}
    scene.assert_victims_unchanged()
    # The vanished directory was not recreated, the symlink not followed.
    assert not (scene.root / "gone").exists()
    assert (scene.root / "dir").is_symlink()
    scene.rollback()
    scene.assert_victims_unchanged()
    assert not (scene.root / "gone").exists()


def test_an_existing_file_cannot_be_registered_as_new_so_rollback_never_deletes_it(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, with_roots: dict[str, str]) -> None:
    scene = Scene(kernel, sandbox_user, "cp-existing")
    locked = scene.root / "locked"
    locked.mkdir()
    os.chown(locked, 0, 0)
    locked.chmod(0o755)
    keep = locked / "keep.conf"
    keep.write_bytes(b"root's file inside the plugin's root\n")
    keep.chmod(0o600)
    before = fingerprint(keep)
    report = scene.attack(pebble, with_roots, "existing")

    assert report["unlink_itself"].startswith("PermissionError")  # beyond the plugin itself
    for step in ("register_new_locked", "register_new_mine"):
        assert report[step].startswith("InvalidParams: "), (step, report[step])
        assert "already exists" in report[step], (step, report[step])
    assert report["register_new_fresh"] == "ok"

    said = scene.rollback()
    assert fingerprint(keep) == before
    assert (scene.root / "mine.conf").read_text() == "mine\n"
    # What really was new is what the rollback removes.
    assert not (scene.root / "fresh.conf").exists(), said
    scene.assert_victims_unchanged()


def test_a_plugin_without_declared_roots_gets_every_checkpoint_call_refused(
        kernel: Kernel, sandbox_user: str, pebble: Pebble,
        without_roots: dict[str, str]) -> None:
    scene = Scene(kernel, sandbox_user, "cp-rootless")
    report = scene.attack(pebble, without_roots, "rootless")

    assert sorted(report) == ["add", "finalize", "register_new", "revert_temporary", "rollback"]
    for step, outcome in report.items():
        assert outcome.startswith("NotSupportedError: ckattack: checkpoint/"), (step, outcome)
        assert "[needs] checkpoint_roots" in outcome, (step, outcome)
    scene.rollback()
    scene.assert_victims_unchanged()


def test_a_root_overlapping_the_plugins_state_dir_is_refused_before_it_starts(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, with_roots: dict[str, str]) -> None:
    scene = Scene(kernel, sandbox_user, "cp-state")
    state = Path(scene.dirs[3]) / "plugins" / "ckattack"
    result = kernel.run(
        "certonly", "-a", "ckattack", "--ckattack-scenario", "swap",
        "--ckattack-root", str(state), "--ckattack-victim", str(scene.victims[0]),
        "-d", "state.example.org", *scene.dirs, *common(pebble), **with_roots)
    assert result.returncode == 1
    assert f"checkpoint root {state} overlaps --work-dir" in result.stderr
    assert not (state / "report.json").exists()
    scene.assert_victims_unchanged()
