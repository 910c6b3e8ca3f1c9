"""Concurrent runs, locks left by killed processes, and SIGKILL during a renewal."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.renew.renew_env import Host

WAIT = 60.0


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _slow_pre_hook(tmp_path: Path, seconds: float) -> tuple[str, Path]:
    started = tmp_path / "pre-started"
    return f"touch {started}; sleep {seconds}", started


def _kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the kernel and its hook children (its own session, started here)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=WAIT)


def test_same_lineage_second_run_fails_cleanly_naming_holder(host: Host, tmp_path: Path) -> None:
    host.issue("shared.example.com")
    hook, started = _slow_pre_hook(tmp_path, 3)
    first = host.popen("renew", "--no-random-sleep-on-renew", "--force-renewal",
                       "--pre-hook", hook)
    try:
        _wait_for(started, first)
        second = host.renew("--force-renewal", env={"CERTKERNEL_LOCK_TIMEOUT": "0.5"})
    finally:
        out, err = first.communicate(timeout=WAIT)
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert f"PID {first.pid}" in second.stderr
    assert "shared.example.com" in second.stderr
    # exactly one new version, complete and current
    assert host.archive_versions("shared.example.com") == [1, 2]
    assert host.version("shared.example.com") == 2


def test_same_lineage_second_run_waits_for_the_first(host: Host, tmp_path: Path) -> None:
    """With time to wait, the second run waits for the lock, then renews on top."""
    host.issue("wait.example.com")
    hook, started = _slow_pre_hook(tmp_path, 2)
    first = host.popen("renew", "--no-random-sleep-on-renew", "--force-renewal",
                       "--pre-hook", hook)
    try:
        _wait_for(started, first)
        second = host.renew("--force-renewal", env={"CERTKERNEL_LOCK_TIMEOUT": "30"})
    finally:
        first.communicate(timeout=WAIT)
    assert first.returncode == 0
    assert second.returncode == 0, second.stderr
    assert "Waiting up to 30s for the certificate lineage wait.example.com" in second.stderr
    assert host.archive_versions("wait.example.com") == [1, 2, 3]
    assert _assert_consistent(host, "wait.example.com") == 3


def test_two_runs_on_a_due_lineage_renew_it_once(host: Host, tmp_path: Path) -> None:
    """Cron on two shells at once: the second waits, re-reads, and leaves the new version be.

    Both runs plan while the lineage is due (and it stays "due" by its
    renew_before_expiry after renewing), so only the re-check after taking
    the lock can tell that the other run already renewed it.
    """
    host.issue("once.example.com")
    host.make_due("once.example.com")
    hook, started = _slow_pre_hook(tmp_path, 2)
    first = host.popen("renew", "--no-random-sleep-on-renew", "--pre-hook", hook)
    try:
        _wait_for(started, first)
        second = host.renew(env={"CERTKERNEL_LOCK_TIMEOUT": "30"})
    finally:
        first.communicate(timeout=WAIT)
    assert first.returncode == 0
    assert second.returncode == 0, second.stderr
    assert "Waiting up to 30s for the certificate lineage once.example.com" in second.stderr
    assert host.archive_versions("once.example.com") == [1, 2]
    assert _assert_consistent(host, "once.example.com") == 2


def test_different_lineages_proceed_in_parallel(host: Host, tmp_path: Path) -> None:
    host.issue("left.example.com")
    host.issue("right.example.com")
    hook, started = _slow_pre_hook(tmp_path, 4)
    first = host.popen("renew", "--no-random-sleep-on-renew", "--force-renewal",
                       "--cert-name", "left.example.com", "--pre-hook", hook)
    try:
        _wait_for(started, first)
        t0 = time.monotonic()
        second = host.renew("--force-renewal", "--cert-name", "right.example.com",
                            env={"CERTKERNEL_LOCK_TIMEOUT": "0.5"})
        elapsed = time.monotonic() - t0
        still_running = first.poll() is None
    finally:
        first.communicate(timeout=WAIT)
    assert second.returncode == 0, second.stderr
    assert still_running, f"the first run ended before the second ({elapsed:.1f}s)"
    assert host.version("right.example.com") == 2
    assert host.version("left.example.com") == 2


def test_lock_of_killed_process_is_recovered(host: Host, tmp_path: Path) -> None:
    host.issue("killed.example.com")
    hook, started = _slow_pre_hook(tmp_path, 60)
    victim = host.popen("renew", "--no-random-sleep-on-renew", "--force-renewal",
                        "--pre-hook", hook)
    _wait_for(started, victim)
    lock_files = list((host.config_dir / ".locks").glob("lineage-killed.example.com*"))
    assert lock_files and lock_files[0].read_text().strip() == str(victim.pid)
    _kill(victim)

    result = host.renew("--force-renewal", env={"CERTKERNEL_LOCK_TIMEOUT": "2"})

    assert result.returncode == 0, result.stderr
    assert host.version("killed.example.com") == 2


def _assert_consistent(host: Host, name: str) -> int:
    """live/ points at one complete version whose key matches its cert."""
    version = host.version(name)
    live = host.config_dir / "live" / name
    cert = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    key = load_pem_private_key((live / "privkey.pem").read_bytes(), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert (live / "fullchain.pem").read_bytes() == \
        (live / "cert.pem").read_bytes() + (live / "chain.pem").read_bytes()
    return version


def test_sigkill_during_renewal_never_leaves_a_broken_lineage(host: Host) -> None:
    """Kill the kernel at spread-out moments of a renewal; every time, the next run is whole."""
    name = "crash.example.com"
    host.issue(name)
    # how long one forced renewal takes here, to spread the kill points over it
    t0 = time.monotonic()
    probe = host.renew("--force-renewal")
    span = time.monotonic() - t0
    assert probe.returncode == 0, probe.stderr
    rng = random.Random(4)
    outcomes = {"killed": 0, "finished": 0}
    for i in range(12):
        delay = span * (i + rng.random()) / 12
        proc = host.popen("renew", "--no-random-sleep-on-renew", "--force-renewal")
        time.sleep(delay)
        if proc.poll() is None:
            _kill(proc)
            outcomes["killed"] += 1
        else:
            proc.communicate(timeout=WAIT)
            outcomes["finished"] += 1
        # what a user sees right after the crash: links never dangle
        assert all(v is not None for v in host.link_versions(name).values())
        # the next run completes and leaves one complete matching set
        after_run = host.renew("--force-renewal")
        assert after_run.returncode == 0, after_run.stderr
        assert _assert_consistent(host, name) == max(host.archive_versions(name))
    assert outcomes["killed"] >= 6, outcomes
