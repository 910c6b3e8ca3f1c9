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


def main_conf(prefix: Path, http_body: str, main_extra: str = "") -> str:
    """A complete nginx.conf whose runtime files all live under ``prefix``."""
    temp = "\n".join(f"    {name}_temp_path {prefix}/tmp/{name};" for name in TEMP_PATHS)
    return (
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log;\n"
        "worker_processes 1;\n"
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

    def __init__(self, prefix: Path) -> None:
        self.prefix = Path(prefix)
        self.conf = self.prefix / "nginx.conf"
        self._proc: subprocess.Popen[bytes] | None = None
        for name in TEMP_PATHS:
            (self.prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)

    def argv(self, *extra: str) -> list[str]:
        return [NGINX_BIN, "-p", f"{self.prefix}/", "-e", str(self.prefix / "error.log"),
                "-c", str(self.conf), *extra]

    def write(self, http_body: str, main_extra: str = "") -> None:
        self.conf.write_text(main_conf(self.prefix, http_body, main_extra))

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
        pid_file = self.prefix / "nginx.pid"
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
