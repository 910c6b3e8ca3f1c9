"""A process killed (SIGKILL) in the middle of changes is recovered by the next one."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from certkernel.checkpoints.reverter import Reverter
from certkernel.errors import LockError
from tests.reverter.procs import kill, start_child, wait_ready
from tests.reverter.tree import snapshot


def _kill_at(work_dir: Path, scenario: str, paths: list[Path]) -> None:
    proc = start_child(work_dir, scenario, paths)
    try:
        wait_ready(proc)
    finally:
        kill(proc)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("scenario", ["after_add", "mid_change", "temporary"])
def test_recovery_routine_restores_what_a_killed_run_changed(
    work_dir: Path, root: Path, files: dict[str, Path], scenario: str
) -> None:
    before = snapshot(root)
    new = root / "etc" / "nginx" / "conf.d" / "new site.conf"
    new.parent.mkdir()
    _kill_at(work_dir, scenario, [files["main"], files["site"], files["binary"], new])
    if scenario != "after_add":
        assert snapshot(root) != before

    with Reverter(str(work_dir), lock_timeout=5) as rev:
        assert rev.needs_recovery()
        results = rev.recovery_routine()
        assert not rev.needs_recovery()
        assert rev.view() == []

    assert snapshot(root) == before
    assert {r.kind for r in results} == {"temporary" if scenario == "temporary" else "in-progress"}


def test_killed_at_random_instants_always_recovers_to_the_original(
    work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    """Kill a change/checkpoint/rollback loop at arbitrary moments, twelve times."""
    before = snapshot(root)
    new = root / "etc" / "nginx" / "looped.conf"
    rng = random.Random(8)
    seen: set[str] = set()
    for _round in range(12):
        proc = start_child(work_dir, "loop", [files["main"], files["binary"], new])
        try:
            wait_ready(proc)
            time.sleep(rng.uniform(0.0, 0.05))
        finally:
            kill(proc)
        with Reverter(str(work_dir), lock_timeout=5) as rev:
            left = rev.view()
            seen.update(info.kind for info in left)
            finalized = sum(1 for info in left if info.kind == "finalized")
            rev.rollback(finalized)  # recovery first, then any checkpoint not rolled back yet
            assert rev.view() == []
        now = snapshot(root)
        diff = {k: (before.get(k), now.get(k)) for k in set(before) | set(now) if before.get(k) != now.get(k)}
        assert not diff, f"round {_round}: {diff}"
    # The kills landed in different phases (not all after a clean rollback).
    assert seen, "no kill hit a checkpoint in progress"


def test_a_second_process_waits_then_fails_naming_the_holder(
    work_dir: Path, root: Path, files: dict[str, Path]
) -> None:
    proc = start_child(work_dir, "after_add", [files["main"], root / "unused"])
    try:
        wait_ready(proc)
        started = time.monotonic()
        with Reverter(str(work_dir), lock_timeout=0.5) as rev:
            with pytest.raises(LockError, match=rf"PID {proc.pid}\b"):
                rev.add([str(files["site"])], roots=[str(root)])
        assert 0.4 < time.monotonic() - started < 5
    finally:
        kill(proc)
    # The kernel dropped the dead holder's flock: the next run gets in and recovers.
    with Reverter(str(work_dir), lock_timeout=5) as rev:
        assert [r.restored for r in rev.recovery_routine()] == [[str(files["main"])]]
