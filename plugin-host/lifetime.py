"""Nothing a plugin starts outlives its run: one cgroup v2 per plugin process.

Why: a process group and ``PR_SET_PDEATHSIG`` do not hold against a hostile
plugin. A double fork plus ``setsid`` leaves the group, and the death signal
is cleared in every forked child, so a grandchild could keep running after
certkernel ended, still holding a kernel-bound socket. A cgroup is a set of
processes no member can leave (moving out needs write access to a cgroup
outside, which only root has), and ``cgroup.kill`` SIGKILLs every member at
once, forks in flight included.

Layout: the kernel makes ``certkernel-<pidns>-<pid>`` under its own cgroup
(the "run" cgroup) and one ``plugin-<n>-<name>`` child per plugin process.
Run cgroups left by kernels of the same PID namespace that are gone (their
reaper died with them) are killed and removed when the next run starts. The child
joins its cgroup between fork and exec, while still root, through a
descriptor opened here; only then does it drop to the plugin's user.

A kernel killed with SIGKILL cannot clean up, so the first plugin cgroup
also starts a small reaper (a root process in its own session, outside the
run cgroup). It waits for EOF on a pipe whose write end only the kernel
holds; when the kernel exits, however it exits, the reaper kills the whole
run cgroup and removes it.

Without a writable cgroup v2 hierarchy (no cgroup2 mount, or a kernel not
running as root without a delegated subtree) plugins are stopped by process
group only, which a double-forked ``setsid`` child escapes; that fallback is
logged once per kernel process.
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

_log = logging.getLogger("certkernel.plugins")

MOUNTINFO = "/proc/self/mountinfo"
OWN_CGROUP = "/proc/self/cgroup"
KILL_WAIT = 5.0

# The reaper runs with -I -S: no site, no cwd, nothing importable to plant.
_REAPER = r"""
import os, sys, time
run = sys.argv[1]
try:
    sys.stdin.buffer.read()
except BaseException:
    pass
def kill_and_remove(path):
    try:
        with open(os.path.join(path, "cgroup.kill"), "w") as fh:
            fh.write("1")
    except OSError:
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(os.path.join(path, "cgroup.events")) as fh:
                if "populated 0" in fh.read():
                    break
        except OSError:
            break
        time.sleep(0.02)
    for top, dirs, _files in os.walk(path, topdown=False):
        for name in dirs:
            try:
                os.rmdir(os.path.join(top, name))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass
kill_and_remove(run)
"""


def cgroup2_mount(mountinfo: str = MOUNTINFO) -> str | None:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup`` or a hybrid's ``unified``)."""
    try:
        with open(mountinfo, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        if right.split()[:1] == ["cgroup2"] and len(fields) >= 5:
            return _unescape(fields[4])
    return None


def _unescape(text: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        text = text.replace(code, chr(int(code[1:], 8)))
    return text


def own_cgroup(path: str = OWN_CGROUP) -> str | None:
    """This process's cgroup v2 path (the ``0::`` line), e.g. ``/user.slice/...``."""
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("0::"):
                    return line[3:].rstrip("\n")
    except OSError:
        return None
    return None


@dataclass
class PluginScope:
    """One plugin process's cgroup: joined at spawn, killed and removed at its end."""

    path: str
    join_fd: int = -1

    def open_join(self) -> int:
        """A descriptor on ``cgroup.procs`` for the child to write its pid into."""
        self.join_fd = os.open(os.path.join(self.path, "cgroup.procs"),
                               os.O_WRONLY | os.O_CLOEXEC)
        return self.join_fd

    def close_join(self) -> None:
        if self.join_fd >= 0:
            os.close(self.join_fd)
            self.join_fd = -1

    def cap_memory(self, limit: int) -> bool:
        """Set ``memory.max`` (no swap) when the memory controller is enabled here."""
        try:
            with open(os.path.join(self.path, "memory.max"), "w", encoding="ascii") as fh:
                fh.write(str(limit))
        except OSError:
            return False  # no memory controller in this hierarchy: RLIMIT_AS alone
        try:
            with open(os.path.join(self.path, "memory.swap.max"), "w", encoding="ascii") as fh:
                fh.write("0")
        except OSError:
            pass
        return True

    def oom_kills(self) -> int:
        """How many of its processes the OOM killer ended (``memory.events``; 0 if unknown)."""
        try:
            with open(os.path.join(self.path, "memory.events"), encoding="ascii") as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def pids(self) -> list[int]:
        try:
            with open(os.path.join(self.path, "cgroup.procs"), encoding="ascii") as fh:
                return [int(x) for x in fh.read().split()]
        except OSError:
            return []

    def kill(self, wait: float = KILL_WAIT) -> bool:
        """SIGKILL every member; True once the cgroup is empty (bounded by ``wait``)."""
        try:
            with open(os.path.join(self.path, "cgroup.kill"), "w", encoding="ascii") as fh:
                fh.write("1")
        except FileNotFoundError:
            return True
        except OSError as exc:
            _log.warning("cannot kill the processes in %s: %s", self.path, exc.strerror)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _unpopulated(self.path):
                return True
            time.sleep(0.01)
        if _unpopulated(self.path):
            return True
        _log.warning("processes are still in %s %g s after cgroup.kill", self.path, wait)
        return False

    def release(self, wait: float = KILL_WAIT) -> bool:
        """Move every member to the kernel's own cgroup; True once none is left here.

        Only for a plugin that runs as the kernel's user (root) and declares
        ``[needs] starts_services`` — an installer that starts nginx when it
        is not running, as Certbot does. The service then lives as if the
        kernel had started it; a sandboxed plugin's processes are always
        killed instead.
        """
        home = os.path.join(os.path.dirname(os.path.dirname(self.path)), "cgroup.procs")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                try:
                    with open(home, "w", encoding="ascii") as fh:
                        fh.write(str(pid))
                except OSError:
                    pass  # gone meanwhile, or a zombie: the next round sees
            time.sleep(0.01)
        return not self.pids()

    def remove(self) -> None:
        self.close_join()
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            _log.debug("cannot remove %s: %s", self.path, exc.strerror)


def _enable_memory(run: str) -> None:
    """Let each plugin's cgroup have a memory.max (best effort: the controller may be
    off in this hierarchy, as on a v1/v2 hybrid, where RLIMIT_AS is the only cap)."""
    try:
        with open(os.path.join(run, "cgroup.subtree_control"), "w", encoding="ascii") as fh:
            fh.write("+memory")
    except OSError:
        pass


def _unpopulated(path: str) -> bool:
    try:
        with open(os.path.join(path, "cgroup.events"), encoding="ascii") as fh:
            return "populated 0" in fh.read()
    except FileNotFoundError:
        return True
    except OSError:
        return False


class _RunCgroups:
    """The kernel process's run cgroup and its reaper, made on first use."""

    def __init__(self, suffix: str = "") -> None:
        self.suffix = suffix  # tests make a second one beside the module's
        self.lock = threading.Lock()
        self.pid = 0
        self.run: str | None = None
        self.failed = ""
        self.warned = False
        self.reaper: subprocess.Popen[bytes] | None = None
        self.counter = itertools.count(1)

    def _setup(self) -> str | None:
        if self.pid != os.getpid():  # a forked kernel starts afresh
            self.pid, self.run, self.failed, self.reaper = os.getpid(), None, "", None
        if self.run is not None or self.failed:
            return self.run
        mount, mine = cgroup2_mount(MOUNTINFO), own_cgroup(OWN_CGROUP)
        if mount is None or mine is None:
            self.failed = "no cgroup v2 hierarchy is mounted"
            return None
        run = os.path.join(mount, mine.lstrip("/"), f"certkernel-{_pidns()}-{os.getpid()}{self.suffix}")
        try:
            os.mkdir(run, 0o755)
        except FileExistsError:
            pass
        except OSError as exc:
            self.failed = f"cannot create {run}: {exc.strerror}"
            return None
        if not os.path.exists(os.path.join(run, "cgroup.kill")):
            self.failed = f"{run} has no cgroup.kill (Linux 5.14 or later is needed)"
            _rmdir(run)
            return None
        _sweep(os.path.dirname(run))
        _enable_memory(run)
        try:
            self.reaper = subprocess.Popen(  # noqa: S603 - our interpreter, fixed code
                [sys.executable, "-I", "-S", "-c", _REAPER, run],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                close_fds=True, start_new_session=True, cwd="/",
            )
        except OSError as exc:
            self.failed = f"cannot start the cgroup reaper: {exc.strerror}"
            _rmdir(run)
            return None
        self.run = run
        return run

    def scope(self, name: str) -> PluginScope | None:
        with self.lock:
            run = self._setup()
            if run is None:
                self._warn_once()
                return None
            path = os.path.join(run, f"plugin-{next(self.counter)}-{name}")
            try:
                os.mkdir(path, 0o755)
                scope = PluginScope(path)
                scope.open_join()
            except OSError as exc:
                self.failed = f"cannot create {path}: {exc.strerror}"
                self._warn_once()
                return None
            return scope

    def _warn_once(self) -> None:
        if self.warned:
            return
        self.warned = True
        # Expected for a kernel not running as root; worth a warning for root.
        level = logging.WARNING if os.geteuid() == 0 else logging.DEBUG
        _log.log(level, "plugins run without a cgroup (%s): a plugin's children that leave its "
                 "process group are not stopped with it", self.failed)


def _sweep(parent: str) -> None:
    """Kill and remove run cgroups of kernels that are gone (their reaper died too)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    mine = f"certkernel-{_pidns()}-"
    for name in names:
        pid = name.removeprefix(mine).partition("-")[0]  # only pids we can see
        if not name.startswith(mine) or not pid.isdigit() or _alive(int(pid)):
            continue
        path = os.path.join(parent, name)
        PluginScope(path).kill()
        for top, dirs, _files in os.walk(path, topdown=False):
            for sub in dirs:
                _rmdir(os.path.join(top, sub))
        _rmdir(path)
        _log.info("removed %s, left by a certkernel run that ended without cleaning up", path)


def _pidns() -> str:
    """This process's PID namespace inode, so a sweep never judges another namespace's pids."""
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:[").rstrip("]")
    except OSError:
        return "0"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


_RUN = _RunCgroups()


def plugin_scope(name: str) -> PluginScope | None:
    """A fresh cgroup for one plugin process, or None (fallback, logged once)."""
    return _RUN.scope(name)
