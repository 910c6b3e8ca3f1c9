"""haproxy in front of several hosts' http-01 responders, as a load balancer would be.

Fleet mode's promise is that a validation reaching any host is answered, so
the tests and ``bench/fleet.py`` put a real haproxy (``balance roundrobin``)
on the port Pebble validates http-01 against, with one backend per host.
haproxy runs in the foreground (``-db``) from a config of our own and is
stopped by its PID; its log (one line per request, naming the backend that
answered) says which host answered each validation.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
# One line per request on stdout: "<backend server> <status> <method> <path>".
_LOG_FORMAT = '%s %ST %HM %HP'
_LINE = re.compile(r"^(?P<server>\S+) (?P<status>\d{3}) (?P<method>[A-Z]+) (?P<path>\S+)$")


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found is None:
        raise RuntimeError("haproxy is not installed: run scripts/setup.sh (apt-get install haproxy)")
    return found


def config_text(listen_port: int, backends: dict[str, int], address: str = "127.0.0.1") -> str:
    """A round-robin HTTP proxy on ``address:listen_port`` over ``name -> port`` backends.

    Only the challenge path goes to the responders, as docs/fleet-http.md
    tells operators to route it; everything else would go to the site, which
    has no server here (haproxy answers 503).
    """
    servers = "\n".join(f"    server {name} {address}:{port}" for name, port in backends.items())
    return f"""global
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    log-format "{_LOG_FORMAT}"
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend http01
    bind {address}:{listen_port}
    acl acme_challenge path_beg /.well-known/acme-challenge/
    use_backend hosts if acme_challenge
    default_backend site

backend hosts
    balance roundrobin
{servers}

backend site
"""


@dataclass
class Haproxy:
    """One haproxy process this test session started (stopped by its PID only)."""

    directory: Path
    listen_port: int
    backends: dict[str, int]
    proc: subprocess.Popen[bytes] | None = None
    _log: Path = field(init=False)

    def __post_init__(self) -> None:
        self._log = self.directory / "haproxy.log"

    def start(self) -> Haproxy:
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "haproxy.cfg"
        conf.write_text(config_text(self.listen_port, self.backends))
        check = subprocess.run([haproxy_binary(), "-c", "-q", "-f", str(conf)],
                               capture_output=True, text=True, timeout=30, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused its config: {check.stderr.strip()}")
        with open(self._log, "wb") as log:
            self.proc = subprocess.Popen([haproxy_binary(), "-db", "-f", str(conf)],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited at start: {self._log.read_text()[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.listen_port), timeout=0.5):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"haproxy did not listen on {self.listen_port} in {START_TIMEOUT} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def requests(self) -> list[tuple[str, int, str, str]]:
        """(backend, status, method, path) of every request logged so far."""
        out = []
        for line in self._log.read_text(errors="replace").splitlines():
            m = _LINE.match(line.strip())
            if m:
                out.append((m["server"], int(m["status"]), m["method"], m["path"]))
        return out

    def answered_by(self) -> Counter[str]:
        """How many challenge requests each backend answered with 200."""
        return Counter(server for server, status, _, path in self.requests()
                       if status == 200 and path.startswith("/.well-known/acme-challenge/"))

    def __enter__(self) -> Haproxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
