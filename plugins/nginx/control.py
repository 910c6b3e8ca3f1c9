"""Driving the nginx binary: test a configuration, reload, and wait for it.

``nginx -s reload`` only signals the master; the new configuration serves
once new workers run and the old ones stop accepting. :meth:`Nginx.reload`
waits (bounded) until every worker that is not shutting down is one started
after the reload, so callers — the http-01 authenticator above all — never
race the old configuration.

Starting a stopped nginx is different: the ``nginx`` we run daemonises and
exits, and the daemon keeps its stderr (this build logs there when the
configuration has no ``error_log``). So nginx is started with stdin/stdout on
/dev/null and stderr on a pipe that is read only until the launcher exits,
never to EOF — waiting for EOF would wait for the daemon to die.

Relative paths in nginx.conf (``pid logs/nginx.pid;``) are nginx's own:
relative to its prefix, the ``-p`` it runs with or else the ``--prefix`` it
was built with (``nginx -V``), never to the directory of nginx.conf.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass

import psutil

from certkernel.sdk import MisconfigurationError, NoInstallationError


@dataclass
class NginxCtl:
    """The nginx binary for one configuration file."""

    ctl: str
    conf: str
    pid_file: str | None
    sleep_seconds: float = 0.0
    timeout: float = 30.0
    prefix: str | None = None  # the -p given to every call (None: nginx's built-in prefix)

    def binary(self) -> str:
        found = shutil.which(self.ctl)
        if found is None:
            raise NoInstallationError(f"Cannot find nginx ('{self.ctl}'); set --nginx-ctl to the nginx binary")
        return found

    def argv(self, *args: str) -> list[str]:
        prefix = ["-p", self.prefix] if self.prefix else []
        return [self.binary(), *prefix, "-c", self.conf, *args]

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A short nginx call that does not daemonise (``-t``, ``-s reload``)."""
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def config_test(self) -> None:
        """``nginx -t``; a failure carries nginx's own words."""
        done = self._run("-t")
        if done.returncode != 0:
            error = _last_error(done.stderr)
            if "(13: Permission denied)" in error and os.geteuid() == 0:
                # Root refused: the Landlock confinement of plugin.toml's [confine].
                error += (" (this plugin runs confined to its server root, nginx prefix, "
                          "/var/log, /var/lib/nginx, /var/cache/nginx and /run; an nginx "
                          "configuration that writes elsewhere needs --plugin-user root, "
                          "which lifts the confinement)")
            raise MisconfigurationError(f"nginx -t failed: {error}")

    def master_pid(self) -> int | None:
        if not self.pid_file:
            return None
        try:
            with open(self.pid_file, encoding="ascii") as fh:
                pid = int(fh.read().strip())
        except (OSError, ValueError):
            return None
        return pid if psutil.pid_exists(pid) else None

    def reload(self) -> None:
        """Reload (or start, if nginx is not running) and wait until the new config serves."""
        master = self.master_pid()
        if master is None:
            self._start()
            self._wait_started()
        else:
            old = set(_workers(master))
            done = self._run("-s", "reload")
            if done.returncode != 0:
                raise MisconfigurationError(f"nginx -s reload failed: {_last_error(done.stderr)}")
            self._wait_new_workers(master, old)
        if self.sleep_seconds > 0:
            time.sleep(self.sleep_seconds)

    def _start(self) -> None:
        """Run nginx to start it; bounded, and without handing the daemon our pipes."""
        read_end, write_end = os.pipe()
        try:
            proc = subprocess.Popen(  # noqa: S603 - the configured nginx binary
                self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=write_end,
                close_fds=True, start_new_session=True,
            )
        finally:
            os.close(write_end)
        try:
            try:
                code: int | None = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                code = None  # still in the foreground ("daemon off;"), or stuck
            output = _drain(read_end)
        finally:
            os.close(read_end)
        if code is None:
            if self.master_pid() == proc.pid:
                return  # a foreground master ("daemon off;") that is serving
            proc.kill()
            proc.wait(timeout=5)
            raise MisconfigurationError(f"nginx did not start within {self.timeout:.0f}s: {_last_error(output)}")
        if code != 0:
            raise MisconfigurationError(f"nginx could not be started: {_last_error(output)}")

    def _wait_started(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            master = self.master_pid()
            if master is not None and _workers(master):
                return
            time.sleep(0.02)
        raise MisconfigurationError(f"nginx did not start within {self.timeout:.0f}s")

    def _wait_new_workers(self, master: int, old: set[int]) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            active = _workers(master)
            if active and not (set(active) & old):
                return
            time.sleep(0.02)
        raise MisconfigurationError(
            f"nginx did not switch to the new configuration within {self.timeout:.0f}s"
        )


def _workers(master: int) -> list[int]:
    """Worker PIDs of ``master`` that are accepting connections (not shutting down)."""
    try:
        children = psutil.Process(master).children()
    except psutil.Error:
        return []
    active = []
    for child in children:
        try:
            title = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "worker process" in title and "shutting down" not in title:
            active.append(child.pid)
    return active


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if "[emerg]" in line or "[alert]" in line]
    return (lines[0] if lines else stderr.strip().splitlines()[-1] if stderr.strip() else "no output").strip()


_DRAIN_LIMIT = 64 * 1024


def _drain(fd: int) -> str:
    """What is in the pipe now, without waiting for an EOF that a daemon may never send."""
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    size = 0
    while size < _DRAIN_LIMIT:
        try:
            chunk = os.read(fd, 8192)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


NGINX_DEFAULT_PREFIX = "/usr/local/nginx/"  # nginx's own default when built without --prefix


@dataclass(frozen=True)
class BuildPaths:
    """What ``nginx -V`` says the binary was built with."""

    prefix: str
    pid_path: str


def build_paths(binary: str) -> BuildPaths:
    """The compiled ``--prefix`` and ``--pid-path`` (nginx's defaults when not given)."""
    done = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10, check=False,
                          stdin=subprocess.DEVNULL)
    found = dict(part[2:].split("=", 1) for part in done.stderr.split()
                 if part.startswith("--") and "=" in part)
    return BuildPaths(prefix=found.get("prefix") or NGINX_DEFAULT_PREFIX,
                      pid_path=found.get("pid-path") or "logs/nginx.pid")


def under_prefix(path: str, prefix: str) -> str:
    """``path`` as nginx reads it: absolute stays, relative hangs off the prefix."""
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(prefix, path))


def pid_file_of(pid_arg: str | None, prefix: str | None, build: BuildPaths) -> str:
    """The master's pid file: the ``pid`` directive, else the compiled default, under the prefix."""
    return under_prefix(pid_arg or build.pid_path, prefix or build.prefix)
