"""Where a plugin process lives: its own cgroup, gone when the plugin ends,
or — without a usable cgroup v2 hierarchy — a fallback said once.

These run the real scenario plugin in-process (pytest is the kernel). The
attacks themselves (double fork + setsid, kernel SIGKILL) are in
tests/sandbox/test_attack_lifetime.py.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from certkernel.plugin_host import lifetime


def test_a_plugin_runs_in_its_own_cgroup_removed_when_it_ends(scenario) -> None:  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.fail("a cgroup of its own needs root (or a delegated subtree); run as root")
    proc = scenario("good")
    with open(f"/proc/{proc.pid}/cgroup", encoding="ascii") as fh:
        line = next(x for x in fh.read().splitlines() if x.startswith("0::"))
    assert f"-{os.getpid()}/plugin-" in line
    assert "/certkernel-" in line
    mount = lifetime.cgroup2_mount()
    assert mount is not None
    folder = Path(mount) / line[3:].lstrip("/")
    assert folder.is_dir()
    proc.close()
    assert not folder.exists()


def test_without_cgroup_v2_plugins_still_run_and_the_fallback_is_logged_once(
        scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        caplog: pytest.LogCaptureFixture) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("22 1 0:21 / /proc rw,nosuid - proc proc rw\n")
    monkeypatch.setattr(lifetime, "MOUNTINFO", str(mountinfo))
    monkeypatch.setattr(lifetime, "_RUN", lifetime._RunCgroups())
    with caplog.at_level(logging.DEBUG, logger="certkernel.plugins"):
        first, second = scenario("good"), scenario("good")
        assert first.call("get_chall_pref", {"domain": "a.example"})
        assert second.call("get_chall_pref", {"domain": "b.example"})
        first.close()
        second.close()
    said = [r for r in caplog.records if "plugins run without a cgroup" in r.getMessage()]
    assert len(said) == 1
    assert "no cgroup v2 hierarchy is mounted" in said[0].getMessage()


def test_a_run_cgroup_left_by_a_dead_kernel_is_killed_and_removed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.fail("creating cgroups needs root (or a delegated subtree); run as root")
    import subprocess

    mount, mine = lifetime.cgroup2_mount(), lifetime.own_cgroup()
    assert mount is not None and mine is not None
    gone = subprocess.Popen(["true"])  # noqa: S607 - a pid that is certainly dead
    gone.wait()
    stale = Path(mount) / mine.lstrip("/") / f"certkernel-{lifetime._pidns()}-{gone.pid}"
    (stale / "plugin-1-left").mkdir(parents=True)
    survivor = subprocess.Popen(["sleep", "300"])  # noqa: S607
    try:
        (stale / "plugin-1-left" / "cgroup.procs").write_text(str(survivor.pid))
        # A run cgroup of its own: its reaper cleans only that one.
        monkeypatch.setattr(lifetime, "_RUN", lifetime._RunCgroups(suffix="-sweep-test"))
        scope = lifetime.plugin_scope("fresh")
        assert scope is not None
        scope.remove()
        assert survivor.wait(10) == -9
        assert not stale.exists()
    finally:
        if survivor.poll() is None:
            survivor.kill()
            survivor.wait(10)
