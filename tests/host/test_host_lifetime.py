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
    assert f"/certkernel-{os.getpid()}/plugin-" in line
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
