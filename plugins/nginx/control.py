"""Driving the nginx binary: test a configuration, reload, and wait for it.

``nginx -s reload`` only signals the master; the new configuration serves
once new workers run and the old ones stop accepting. :meth:`Nginx.reload`
waits (bounded) until every worker that is not shutting down is one started
after the reload, so callers — the http-01 authenticator above all — never
race the old configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass

import psutil

from certkernel.errors import MisconfigurationError, NoInstallationError


@dataclass
class NginxCtl:
    """The nginx binary for one configuration file."""

    ctl: str
    conf: str
    pid_file: str | None
    sleep_seconds: float = 0.0
    timeout: float = 30.0

    def binary(self) -> str:
        found = shutil.which(self.ctl)
        if found is None:
            raise NoInstallationError(f"Cannot find nginx ('{self.ctl}'); set --nginx-ctl to the nginx binary")
        return found

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary(), "-c", self.conf, *args],
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
            raise MisconfigurationError(f"nginx -t failed: {_last_error(done.stderr)}")

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
            done = self._run()
            if done.returncode != 0:
                raise MisconfigurationError(f"nginx could not be started: {_last_error(done.stderr)}")
            self._wait_started()
        else:
            old = set(_workers(master))
            done = self._run("-s", "reload")
            if done.returncode != 0:
                raise MisconfigurationError(f"nginx -s reload failed: {_last_error(done.stderr)}")
            self._wait_new_workers(master, old)
        if self.sleep_seconds > 0:
            time.sleep(self.sleep_seconds)

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


def pid_file_of(main_args: list[str] | None, server_root: str, ctl: str) -> str | None:
    """The master's pid file: the ``pid`` directive, else nginx's compiled default."""
    if main_args:
        path = main_args[0]
        return path if os.path.isabs(path) else os.path.join(server_root, path)
    found = shutil.which(ctl)
    if found is None:
        return None
    done = subprocess.run([found, "-V"], capture_output=True, text=True, timeout=10, check=False)
    for part in done.stderr.split():
        if part.startswith("--pid-path="):
            return part.split("=", 1)[1]
    return None
