"""Start the checkpoint child process and kill it at the point it reports."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

CHILD = Path(__file__).with_name("child.py")
REPO = Path(__file__).resolve().parents[2]


def start_child(work_dir: Path, scenario: str, paths: list[Path]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(work_dir), scenario, *map(str, paths)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )


def wait_ready(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Block until the child printed READY (bounded); fail with its stderr otherwise."""
    assert proc.stdout is not None
    ready, _w, _x = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else b""
    if line.strip() != b"READY":
        kill(proc)
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise AssertionError(f"child did not get ready: {line!r} {err}")


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child (by its own PID) and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
