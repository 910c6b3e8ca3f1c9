"""``certkernel responder`` as a real process, and raw HTTP to it.

Tests start it as an operator would (``certkernel responder --listen
127.0.0.1:PORT --work-dir ...``), wait until it accepts, talk to it over
plain sockets (so that requests no well-behaved client would send can be
sent), and stop it with a signal, by its PID.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.infra.pebble import free_port

CERTKERNEL = str(Path(sys.executable).with_name("certkernel"))
START_TIMEOUT = 30.0


@dataclass
class ResponderProcess:
    """One running responder: its port, its process, and the directories it was given."""

    base: Path
    port: int = 0
    extra: tuple[str, ...] = ()
    # where its output goes when it serves many requests (a pipe nobody reads would fill)
    output: Path | None = None
    proc: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def work_dir(self) -> Path:
        return self.base / "work"

    def argv(self) -> list[str]:
        return [CERTKERNEL, "responder", "--listen", f"127.0.0.1:{self.port}",
                "--work-dir", str(self.work_dir), "--config-dir", str(self.base / "config"),
                "--logs-dir", str(self.base / "logs"), *self.extra]

    def start(self) -> ResponderProcess:
        self.port = self.port or free_port()
        if self.output is None:
            self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                         text=True)
        else:
            self.base.mkdir(parents=True, exist_ok=True)
            with open(self.output, "w") as out:
                self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"responder exited {self.proc.returncode}: {out}{err}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("responder did not start listening")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> tuple[int, str, str]:
        """Send ``sig`` and wait; (exit status, stdout, stderr)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"responder ignored signal {sig}: {out}{err}") from None
        return self.proc.returncode, out or "", err or ""

    def uid(self) -> int:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("Uid:"))
        return int(line.split()[1])


def raw(port: int, request: bytes, timeout: float = 15.0) -> bytes:
    """Send ``request`` as is and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1]


def get(port: int, path: str, method: str = "GET") -> bytes:
    return raw(port, f"{method} {path} HTTP/1.1\r\nHost: a.example\r\n\r\n".encode("latin-1"))


__all__ = ["ResponderProcess", "body_of", "get", "raw", "status_of"]
