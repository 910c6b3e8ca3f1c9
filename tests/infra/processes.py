"""Waiting for processes to go away: what tests check after a plugin is stopped."""

from __future__ import annotations

import os
import time


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def wait_gone(pids: list[int], timeout: float = 5.0) -> bool:
    """True once none of ``pids`` exists; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_exists(pid) for pid in pids):
            return True
        time.sleep(0.02)
    return False
