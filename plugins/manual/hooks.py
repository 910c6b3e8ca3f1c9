"""Running the user's ``--manual-auth-hook`` / ``--manual-cleanup-hook`` scripts.

Why care: the hook's stdout is captured (Certbot hands it to the cleanup
hook as ``CERTBOT_AUTH_OUTPUT``) and must never reach the protocol channel;
the wait is bounded and notices a ``$/cancel``; a failing hook is reported
with its own stderr, which is what the user needs to fix it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from certkernel.sdk import PluginError

HOOK_TIMEOUT = 3500.0
POLL = 0.1
_TAIL_CHARS = 2000


@dataclass(frozen=True)
class HookResult:
    """What one hook run produced."""

    returncode: int
    stdout: str
    stderr: str


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def run_hook(
    command: str,
    env: Mapping[str, str],
    cancelled: Callable[[], bool] = lambda: False,
    timeout: float = HOOK_TIMEOUT,
) -> HookResult:
    """Run ``command`` through ``/bin/sh -c`` with ``env`` added to ours."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CERTKERNEL_")}
    full_env.update(env)
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            start_new_session=True,
        )
    except OSError as exc:
        raise PluginError(f"could not run hook {command!r}: {exc.strerror or exc}") from None
    deadline = time.monotonic() + timeout
    while True:
        try:
            out, err = proc.communicate(timeout=POLL)
            break
        except subprocess.TimeoutExpired:
            if cancelled():
                _kill_group(proc)
                raise PluginError(f"hook {command!r} was stopped: the run was cancelled") from None
            if time.monotonic() > deadline:
                _kill_group(proc)
                raise PluginError(
                    f"hook {command!r} did not finish within {int(timeout)} seconds"
                ) from None
    return HookResult(
        proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
    )


def tail(text: str) -> str:
    """The end of a hook's output, on one line, for an error message."""
    flat = " | ".join(line for line in text.strip().splitlines() if line.strip())
    return flat[-_TAIL_CHARS:]
