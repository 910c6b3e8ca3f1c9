"""How a plugin process is started and its group stopped: argv, environment, descriptors, limits.

Everything here runs before the plugin's first instruction, so it is where
the host decides what the plugin can see: an environment built from scratch,
no inherited descriptors but the protocol pipes and handed-over sockets, its
own process group, death with the kernel, no core dumps, and — when it runs
as another user — no supplementary groups, ``no_new_privs`` and resource
limits. The host and plugin-check both start and stop plugins through here,
so a conformance check sees the plugin exactly as a real run would.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from certkernel.protocol.messages import COOKIE_NAME, COOKIE_VALUE, NAME_ENV, VERSIONS_ENV

_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to a sandboxed plugin (None: leave as is)."""

    max_files: int | None = 256
    max_memory: int | None = 1024 * 1024 * 1024


@dataclass(frozen=True)
class LaunchPlan:
    """Everything needed to exec one plugin process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None
    pass_fds: tuple[int, ...] = ()
    user: int | None = None
    group: int | None = None
    limits: Limits | None = None
    protocol_versions: tuple[int, ...] = (1,)
    timeouts: Mapping[str, float] = field(default_factory=dict)
    confine_fd: int | None = None  # a Landlock ruleset applied before exec (landlock.py)


def build_env(
    name: str,
    versions: Sequence[int],
    passthrough: Sequence[str] = (),
    home: str | None = None,
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The plugin's environment: a fixed base, the cookie, and named pass-throughs."""
    source = os.environ if source is None else source
    env = {
        "PATH": source.get("PATH", DEFAULT_PATH),
        "LANG": "C.UTF-8",
        COOKIE_NAME: COOKIE_VALUE,
        VERSIONS_ENV: ",".join(str(v) for v in versions),
        NAME_ENV: name,
    }
    if home:
        env["HOME"] = home
    for key in passthrough:
        if key in source:
            env[key] = source[key]
    return env


def _libc_prctl() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl: Callable[..., int] = libc.prctl
    return prctl


def make_preexec(plan: LaunchPlan) -> Callable[[], None]:
    """The function the child runs between fork and exec.

    It must not allocate much or take locks; it only makes system calls.
    ``prctl`` is looked up before fork for that reason.
    """
    prctl = _libc_prctl()
    sandboxed = plan.user is not None
    limits = plan.limits
    confine_fd = plan.confine_fd
    restrict = None
    if confine_fd is not None:
        from certkernel.plugin_host.landlock import restrictor

        restrict = restrictor()

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if sandboxed or confine_fd is not None:
                prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if restrict is not None and confine_fd is not None and restrict(confine_fd) != 0:
            os._exit(126)  # fail closed: never run a plugin unconfined that should be confined
        if limits is not None:
            if limits.max_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_files, limits.max_files))
            if limits.max_memory is not None:
                resource.setrlimit(resource.RLIMIT_AS, (limits.max_memory, limits.max_memory))
        # The kernel may have died between fork and prctl.
        if os.getppid() == 1:
            os._exit(1)

    return preexec


Stream = int | IO[Any]


def popen(plan: LaunchPlan, stdin: Stream, stdout: Stream,
          stderr: Stream) -> subprocess.Popen[bytes]:
    """Start ``plan``: own session and process group, only the named fds, the preexec above.

    As another user (``plan.user``) it also drops supplementary groups and
    uses umask 077. ``OSError`` is left to the caller, which words it.
    """
    sandboxed = plan.user is not None
    return subprocess.Popen(  # noqa: S603 - argv comes from a manifest
        plan.argv,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        env=plan.env,
        cwd=plan.cwd,
        close_fds=True,
        pass_fds=plan.pass_fds,
        start_new_session=True,
        preexec_fn=make_preexec(plan),  # noqa: PLW1509 - only syscalls run there
        user=plan.user,
        group=plan.group,
        extra_groups=[] if sandboxed else None,
        umask=0o077 if sandboxed else -1,
    )


def wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """The exit status, or None if still running after ``timeout`` seconds."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group ``pid`` leads; a group already gone is fine."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, ``grace`` seconds, SIGKILL, reap; then SIGKILL whatever the group left.

    The final SIGKILL reaches children the plugin started in its group even
    when the plugin itself exited on its own.
    """
    if process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        if wait_exit(process, grace) is None:
            signal_group(process.pid, signal.SIGKILL)
            wait_exit(process, grace)
    signal_group(process.pid, signal.SIGKILL)
