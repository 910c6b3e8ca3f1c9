"""Attack 4 of issue 12: a sandboxed plugin tries to outlive the kernel.

The attack plugin double-forks and calls ``setsid``: its grandchild leaves
the plugin's process group and session, has no death signal, and keeps the
http-01 listening socket the kernel bound and handed over. The victim is
that port: once the run ends (normally, or by SIGKILL of the kernel) the
grandchild must be gone and the port free for the next run to bind.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.pebble import Pebble
from tests.infra.sandbox_env import Kernel, alive, proc_status
from tests.infra.sandbox_run import common
from tests.sandbox import attack_env


@pytest.fixture(scope="module")
def attack(kernel: Kernel, sandbox_user: str) -> dict[str, str]:
    return attack_env.install(kernel.root, "xdg-attack-lifetime",
                              attack_env.manifest("attack", sandbox_user))


@pytest.fixture
def started() -> Iterator[list[int]]:
    """Pids our attack plugin reported; whatever survives a failed test is killed here."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def wait_file(path: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def the_state_dir(dirs: list[str]) -> Path:
    found = attack_env.state_dirs(dirs, "attack")
    assert len(found) == 1, found
    return found[0]


def test_double_forked_setsid_child_dies_with_the_run_and_frees_the_port(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, attack: dict[str, str],
        started: list[int]) -> None:
    port = attack_env.free_port()
    dirs = kernel.dirs("attack-linger")
    result = kernel.run("certonly", "-a", "attack", "--attack-mode", "linger",
                        "--http-01-port", str(port), "--http-01-address", "127.0.0.1",
                        "-d", "linger.example.org", *dirs, *common(pebble), **attack)
    state = the_state_dir(dirs)
    started += [int(p) for p in (state / "pids").read_text().split()]
    assert result.returncode == 1, result.stderr
    assert "attack: linger finished" in result.stderr
    grandchild = int((state / "grandchild.pid").read_text())
    assert grandchild in started
    assert gone(grandchild), proc_status(grandchild)
    assert attack_env.can_bind(port)


def test_double_forked_setsid_child_dies_when_the_kernel_is_killed(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, attack: dict[str, str],
        started: list[int]) -> None:
    port = attack_env.free_port()
    dirs = kernel.dirs("attack-linger-sigkill")
    proc = kernel.start("certonly", "-a", "attack", "--attack-mode", "linger",
                        "--attack-then", "sleep", "--http-01-port", str(port),
                        "--http-01-address", "127.0.0.1", "-d", "sigkill.example.org",
                        *dirs, *common(pebble), **attack)
    try:
        deadline = time.monotonic() + 90
        while not attack_env.state_dirs(dirs, "attack") and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.05)
        state = the_state_dir(dirs)
        grandchild = int(wait_file(state / "grandchild.pid"))
        started += [int(p) for p in (state / "pids").read_text().split()]
        assert alive(grandchild)
        assert not attack_env.can_bind(port)  # the attack holds the port while the run lasts
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    for pid in started:
        assert gone(pid), (pid, proc_status(pid))
    assert attack_env.can_bind(port)


def test_a_sandboxed_plugin_cannot_keep_a_child_by_declaring_it_a_service(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, started: list[int]) -> None:
    env = attack_env.install(kernel.root, "xdg-attack-services",
                             attack_env.manifest("attack", sandbox_user, starts_services=True))
    port = attack_env.free_port()
    dirs = kernel.dirs("attack-services-sandboxed")
    result = kernel.run("certonly", "-a", "attack", "--attack-mode", "linger",
                        "--http-01-port", str(port), "--http-01-address", "127.0.0.1",
                        "-d", "services.example.org", *dirs, *common(pebble), **env)
    state = the_state_dir(dirs)
    started += [int(p) for p in (state / "pids").read_text().split()]
    assert "attack: linger finished" in result.stderr
    grandchild = int((state / "grandchild.pid").read_text())
    assert gone(grandchild), proc_status(grandchild)
    assert attack_env.can_bind(port)


def test_a_root_installer_keeps_the_service_it_started(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, started: list[int]) -> None:
    """What nginx and apache need: a web server started because it was down stays up."""
    env = attack_env.install(kernel.root, "xdg-attack-services",
                             attack_env.manifest("attack", sandbox_user, starts_services=True))
    dirs = kernel.dirs("attack-services-root")
    result = kernel.run("certonly", "-a", "attack", "--attack-mode", "linger",
                        "--plugin-user", "root", "--http-01-port", str(attack_env.free_port()),
                        "--http-01-address", "127.0.0.1", "-d", "services.example.org",
                        *dirs, *common(pebble), **env)
    state = the_state_dir(dirs)
    started += [int(p) for p in (state / "pids").read_text().split()]
    assert "attack: linger finished" in result.stderr
    grandchild = int((state / "grandchild.pid").read_text())
    assert alive(grandchild)
    with open(f"/proc/{grandchild}/cgroup", encoding="ascii") as fh:
        assert "certkernel-" not in fh.read()  # released to the kernel's own cgroup
