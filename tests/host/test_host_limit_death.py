"""Which limit ended a process is read from how it died (spawn.limit_death).

Real processes under real rlimits, started through the host's own spawn;
no Python in the child, so nothing can catch or word the failure.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from certkernel.plugin_host import spawn
from certkernel.plugin_host.spawn import LaunchPlan, Limits

_MIB = 1024 * 1024


def _run(tmp_path: Path, script: str, limits: Limits) -> tuple[subprocess.Popen[bytes], int]:
    plan = LaunchPlan(name="limited", argv=["/bin/sh", "-c", script],
                      env=spawn.build_env("limited", (1,)), cwd=str(tmp_path), limits=limits)
    process = spawn.popen(plan, subprocess.DEVNULL, subprocess.DEVNULL, subprocess.DEVNULL)
    try:
        status = spawn.wait_exit(process, 60)
        assert status is not None, "the limited process did not end within 60 s"
        return process, status
    finally:
        spawn.stop_group(process, 1.0)


def test_a_file_over_the_size_limit_is_a_file_size_death(tmp_path: Path) -> None:
    limits = Limits(max_files=None, max_memory=None, max_file_size=1 * _MIB)
    process, status = _run(tmp_path, "exec head -c 2097152 /dev/zero > big", limits)
    assert status == -signal.SIGXFSZ
    assert spawn.limit_death(process, status, limits) == "file size"
    assert (tmp_path / "big").stat().st_size == 1 * _MIB


def test_cpu_time_over_the_limit_is_a_cpu_death(tmp_path: Path) -> None:
    limits = Limits(max_files=None, max_memory=None, max_cpu_seconds=1)
    process, status = _run(tmp_path, "while :; do :; done", limits)
    assert status == -signal.SIGXCPU
    assert spawn.limit_death(process, status, limits) == "cpu"


def test_sigkill_is_a_memory_death_only_under_a_memory_limit(tmp_path: Path) -> None:
    with_memory = Limits(max_files=None, max_memory=512 * _MIB)
    process, status = _run(tmp_path, "kill -KILL $$", with_memory)
    assert status == -signal.SIGKILL
    assert spawn.limit_death(process, status, with_memory) == "memory"
    no_memory = Limits(max_files=None, max_memory=None)
    process, status = _run(tmp_path, "kill -KILL $$", no_memory)
    assert spawn.limit_death(process, status, no_memory) == ""


def test_an_ordinary_exit_is_no_limit(tmp_path: Path) -> None:
    limits = Limits(max_files=None, max_memory=512 * _MIB, max_cpu_seconds=5,
                    max_file_size=_MIB)
    process, status = _run(tmp_path, "exit 3", limits)
    assert status == 3
    assert spawn.limit_death(process, status, limits) == ""
