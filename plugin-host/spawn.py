"""How a plugin process is started and its group stopped: argv, environment, descriptors, limits.

Everything here runs before the plugin's first instruction, so it is where
the host decides what the plugin can see: an environment built from scratch,
no inherited descriptors but the protocol pipes and handed-over sockets, its
own process group and cgroup (so everything it starts ends with it, see
lifetime.py), death with the kernel, no core dumps, and — when it runs
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

from certkernel.plugin_host import lifetime
from certkernel.plugin_host.landlock import restrictor
from certkernel.protocol.messages import COOKIE_NAME, COOKIE_VALUE, NAME_ENV, VERSIONS_ENV

_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_CPU_GRACE = 2  # seconds between SIGXCPU and the hard CPU limit's SIGKILL
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to a sandboxed plugin (None: leave as is).

    Going over one ends the plugin by a signal the host recognises
    (:func:`limit_death`): memory by SIGKILL (the cgroup's OOM killer, or
    the Python SDK on ``MemoryError``), CPU time by SIGXCPU, file size by
    SIGXFSZ.
    """

    max_files: int | None = 256
    max_memory: int | None = 1024 * 1024 * 1024
    max_cpu_seconds: int | None = None
    max_file_size: int | None = None


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
    # A root-run plugin that may start services (nginx when it is not
    # running): what is left in its cgroup at the end is released, not killed.
    keep_services: bool = False
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
        # Python plugins started any way never import from their working directory.
        "PYTHONSAFEPATH": "1",
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


def rlimits_for(limits: Limits | None) -> list[tuple[int, tuple[int, int]]]:
    """The (resource, (soft, hard)) pairs a plugin runs under: no core dumps, then its limits."""
    pairs = [(resource.RLIMIT_CORE, (0, 0))]
    if limits is None:
        return pairs
    if limits.max_files is not None:
        pairs.append((resource.RLIMIT_NOFILE, (limits.max_files, limits.max_files)))
    if limits.max_memory is not None:
        pairs.append((resource.RLIMIT_AS, (limits.max_memory, limits.max_memory)))
    if limits.max_cpu_seconds is not None:
        # SIGXCPU at the soft limit; the hard one (SIGKILL) only if it is ignored.
        cpu = limits.max_cpu_seconds
        pairs.append((resource.RLIMIT_CPU, (cpu, cpu + _CPU_GRACE)))
    if limits.max_file_size is not None:
        pairs.append((resource.RLIMIT_FSIZE, (limits.max_file_size, limits.max_file_size)))
    return pairs


def make_preexec(plan: LaunchPlan, join_fd: int = -1) -> Callable[[], None]:
    """The function the child runs between fork and exec.

    It must not allocate much or take locks; it only makes system calls.
    ``prctl`` is looked up before fork for that reason. The order matters:
    the child joins its cgroup through ``join_fd`` while still the kernel's
    user (joining needs write access to the run cgroup), then drops to the
    plugin's user, then sets the death signal (a change of user clears it).
    """
    prctl = _libc_prctl()
    sandboxed = plan.user is not None
    uid = plan.user if plan.user is not None else -1
    gid = plan.group if plan.group is not None else -1
    rlimits = rlimits_for(plan.limits)  # computed before fork: the child only sets them
    confine_fd = plan.confine_fd
    restrict = None
    if confine_fd is not None:
        restrict = restrictor()

    def preexec() -> None:
        if join_fd >= 0:
            os.write(join_fd, b"0")
        if sandboxed:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if sandboxed or confine_fd is not None:
                prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if restrict is not None and confine_fd is not None and restrict(confine_fd) != 0:
            os._exit(126)  # fail closed: never run a plugin unconfined that should be confined
        for which, pair in rlimits:
            resource.setrlimit(which, pair)
        # The kernel may have died between fork and prctl.
        if os.getppid() == 1:
            os._exit(1)

    return preexec


Stream = int | IO[Any]


# pid -> the cgroup of a plugin started by popen(), until stop_group() ends it.
_SCOPES: dict[int, tuple[lifetime.PluginScope, bool]] = {}


def popen(plan: LaunchPlan, stdin: Stream, stdout: Stream,
          stderr: Stream) -> subprocess.Popen[bytes]:
    """Start ``plan``: own session, process group and cgroup, only the named fds.

    As another user (``plan.user``) it also drops supplementary groups and
    uses umask 077; the switch happens in the preexec, after the child joined
    its cgroup (see lifetime.py). ``OSError`` and ``SubprocessError`` (a
    failed preexec) are left to the caller, which words them.
    """
    sandboxed = plan.user is not None
    scope = lifetime.plugin_scope(plan.name)
    _cap_memory(plan, scope)
    try:
        process = subprocess.Popen(  # noqa: S603 - argv comes from a manifest
            plan.argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=plan.env,
            cwd=plan.cwd,
            close_fds=True,
            pass_fds=plan.pass_fds,
            start_new_session=True,
            preexec_fn=make_preexec(plan, scope.join_fd if scope else -1),  # noqa: PLW1509
            umask=0o077 if sandboxed else -1,
        )
    except BaseException:
        if scope is not None:
            scope.kill()
            scope.remove()
        raise
    finally:
        if scope is not None:
            scope.close_join()
    if scope is not None:
        _SCOPES[process.pid] = (scope, plan.keep_services and not sandboxed)
    return process


def _cap_memory(plan: LaunchPlan, scope: lifetime.PluginScope | None) -> None:
    """Put the memory limit on the plugin's cgroup too, where the memory controller is on.

    RLIMIT_AS bounds address space; the cgroup bounds what the plugin and
    every child really use, and its OOM kills are counted (memory.events).
    """
    if scope is not None and plan.limits is not None and plan.limits.max_memory is not None:
        scope.cap_memory(plan.limits.max_memory)


def limit_death(process: subprocess.Popen[bytes], status: int | None,
                limits: Limits | None) -> str:
    """Which limit ended ``process`` ("memory", "cpu", "file size"; "" if none or unknown).

    Read from how it died, never from what it said: SIGXCPU and SIGXFSZ are
    sent only for those limits; SIGKILL under a memory limit is the OOM
    killer's (confirmed by the cgroup's oom_kill count when there is one) or
    the Python SDK's answer to ``MemoryError``. Call it before
    :func:`stop_group`, which removes the cgroup.
    """
    if limits is None or status is None or status >= 0:
        return ""
    if -status == signal.SIGXCPU and limits.max_cpu_seconds is not None:
        return "cpu"
    if -status == signal.SIGXFSZ and limits.max_file_size is not None:
        return "file size"
    if limits.max_memory is None:
        return ""
    entry = _SCOPES.get(process.pid)
    if entry is not None and entry[0].oom_kills() > 0:
        return "memory"
    if -status == signal.SIGKILL:
        return "memory"
    return ""


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
    when the plugin itself exited on its own; children that left the group
    are the cgroup's business (lifetime.py).
    """
    if process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        if wait_exit(process, grace) is None:
            signal_group(process.pid, signal.SIGKILL)
            wait_exit(process, grace)
    signal_group(process.pid, signal.SIGKILL)
    end_scope(process)


def end_scope(process: subprocess.Popen[bytes]) -> None:
    """Kill (or, for a root plugin that starts services, release) what is left in
    ``process``'s cgroup, and remove the cgroup."""
    entry = _SCOPES.pop(process.pid, None)
    if entry is None:
        return
    scope, keep = entry
    if not keep or not scope.release():
        scope.kill()
    scope.remove()
