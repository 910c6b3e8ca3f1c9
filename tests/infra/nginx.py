"""A private nginx for installer tests: own prefix, pid, logs and temp paths.

The test writes the site part of the configuration; :func:`main_conf` wraps
it with everything that must stay inside the test directory (pid file, error
and access logs, the five ``*_temp_path`` folders) so that several instances
run side by side and nothing touches /etc/nginx or /var. nginx runs in the
foreground as our child (``daemon off``), so it is stopped by its PID.

Reloads are asynchronous: for a short while old and new workers both answer,
so :meth:`Nginx.wait_for_certificate` waits until several handshakes in a row
show the expected certificate (bounded).
"""

from __future__ import annotations

import http.client
import os
import signal
import ssl
import subprocess
import time
from pathlib import Path

from tests.infra.tls import served_certificate

NGINX_BIN = "/usr/sbin/nginx"
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def main_conf(prefix: Path, http_body: str, main_extra: str = "", *,
              pid: str | None = None, error_log: bool = True) -> str:
    """A complete nginx.conf whose runtime files all live under ``prefix``.

    ``pid`` is the ``pid`` directive's argument as written (a relative one is
    nginx's prefix-relative form); ``error_log=False`` leaves nginx's built-in
    default (stderr for this build), as many real configurations do.
    """
    temp = "\n".join(f"    {name}_temp_path {prefix}/tmp/{name};" for name in TEMP_PATHS)
    return (
        f"pid {pid or f'{prefix}/nginx.pid'};\n"
        + (f"error_log {prefix}/error.log;\n" if error_log else "")
        + "worker_processes 1;\n"
        f"{main_extra}"
        "events {\n    worker_connections 64;\n}\n"
        "http {\n"
        f"    access_log {prefix}/access.log;\n"
        f"{temp}\n"
        f"{http_body}"
        "}\n"
    )


class Nginx:
    """One nginx master process serving ``<prefix>/nginx.conf``."""

    def __init__(self, prefix: Path, pid_path: Path | None = None, run_prefix: Path | None = None) -> None:
        self.prefix = Path(prefix)
        self.run_prefix = Path(run_prefix or prefix)  # the -p nginx runs with
        self.conf = self.prefix / "nginx.conf"
        self.pid_path = pid_path or self.prefix / "nginx.pid"
        self._proc: subprocess.Popen[bytes] | None = None
        for name in TEMP_PATHS:
            (self.prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)

    def argv(self, *extra: str) -> list[str]:
        return [NGINX_BIN, "-p", f"{self.run_prefix}/", "-e", str(self.prefix / "error.log"),
                "-c", str(self.conf), *extra]

    def write(self, http_body: str, main_extra: str = "", *, pid: str | None = None,
              error_log: bool = True) -> None:
        self.conf.write_text(main_conf(self.prefix, http_body, main_extra, pid=pid, error_log=error_log))

    def test_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv("-t"), capture_output=True, text=True, timeout=30, check=False)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self, timeout: float = 10.0) -> None:
        """Run nginx in the foreground and wait until its pid file names it."""
        checked = self.test_config()
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed: {checked.stderr.strip()}")
        self._proc = subprocess.Popen(
            self.argv("-g", "daemon off;"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        pid_file = self.pid_path
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"nginx exited at start ({self._proc.returncode}): {err.strip()}")
            if pid_file.exists() and pid_file.read_text().strip() == str(self._proc.pid):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nginx did not write its pid file within {timeout}s")

    def reload(self) -> None:
        os.kill(self.pid, signal.SIGHUP)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGQUIT (graceful), then SIGKILL if it lingers; always reaped."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGQUIT)
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=timeout)
        if self._proc.stderr:
            self._proc.stderr.close()

    def stop_daemon(self, timeout: float = 10.0) -> None:
        """Stop a master that something else started (it daemonised): SIGQUIT, wait, SIGKILL.

        Only the PID its pid file names, and only if that process is an nginx master.
        """
        try:
            pid = int(self.pid_path.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            return
        if "nginx: master process" not in cmdline:
            return
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_for_certificate(
        self, port: int, server_name: str, serial: int, timeout: float = 10.0, in_a_row: int = 5
    ) -> None:
        """Return once ``in_a_row`` handshakes in a row present the certificate ``serial``."""
        deadline = time.monotonic() + timeout
        streak, last = 0, "no handshake"
        while time.monotonic() < deadline:
            try:
                cert = served_certificate("127.0.0.1", port, server_name)
                streak = streak + 1 if cert.serial_number == serial else 0
                last = f"serial {cert.serial_number:x}"
            except OSError as exc:
                streak, last = 0, str(exc)
            if streak >= in_a_row:
                return
            time.sleep(0.03)
        raise TimeoutError(f"port {port} did not present serial {serial:x} within {timeout}s ({last})")


def http_get(port: int, host: str, path: str = "/", timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """One plain-HTTP GET with a Host header; (status, headers, body). No redirects followed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 that still sends the wanted name as SNI."""

    def __init__(self, sni: str, port: int, timeout: float) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # test CAs are throwaway
        super().__init__("127.0.0.1", port, timeout=timeout, context=context)
        self._sni = sni
        self._ctx = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._ctx.wrap_socket(self.sock, server_hostname=self._sni)


def https_get(port: int, host: str, path: str = "/", timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTPS GET with SNI and Host ``host``; the certificate is not verified."""
    conn = _SNIConnection(host, port, timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()
