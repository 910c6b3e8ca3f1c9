"""A private apache2 on loopback ports, for installer and authenticator tests.

Why: the Apache plugin is only trusted when a real httpd accepts what it
wrote and serves the new certificate. Debian's apache2 needs, besides the
vhosts, a ServerRoot, PidFile, Mutex directory, DefaultRuntimeDir,
User/Group and the MPM/authz/mime modules (``log_config`` is built in and
must not be loaded). This module builds such a tree in a directory the
``www-data`` workers can read, starts ``apache2 -D FOREGROUND`` on ports
chosen at run time, reloads with ``-k graceful`` and stops by PID; every
wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

APACHE_BIN = "/usr/sbin/apache2"
MODULE_DIR = "/usr/lib/apache2/modules"
START_TIMEOUT = 15.0

# name -> "# Depends" list; the .load files we give the private tree
MODULES = {
    "mpm_event": [],
    "authz_core": [],
    "authz_host": ["authz_core"],
    "mime": [],
    "dir": [],
    "alias": [],
    "setenvif": [],
    "socache_shmcb": [],
    "ssl": ["setenvif", "mime", "socache_shmcb"],
    "rewrite": [],
    "headers": [],
    "macro": [],
    "proxy": [],
    "proxy_http": ["proxy"],
}
BASE_ENABLED = ("mpm_event", "authz_core", "authz_host", "mime", "dir", "alias", "setenvif")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def readable_tempdir(prefix: str = "ck-apache-") -> Path:
    """A fresh directory under /tmp that apache's www-data workers can traverse."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def var_dir(root: Path) -> Path:
    """Run, log and document folders of a tree: beside it, so config snapshots stay clean."""
    return root.parent / (root.name + "-var")


def base_directives(root: Path) -> str:
    """What every private apache2.conf needs before the user's own lines."""
    var = var_dir(root)
    return (
        f'ServerRoot "{root}"\n'
        "ServerName localhost\n"
        f"PidFile {var}/run/apache2.pid\n"
        f"Mutex file:{var}/run default\n"
        f"DefaultRuntimeDir {var}/run\n"
        "User www-data\nGroup www-data\n"
        f"ErrorLog {var}/logs/error.log\n"
        "LogLevel warn\n"
        "TypesConfig /etc/mime.types\n"
    )


def write_modules(root: Path, enabled: tuple[str, ...] = BASE_ENABLED) -> None:
    """Debian-style mods-available (all we know) and mods-enabled links (``enabled``)."""
    avail = root / "mods-available"
    avail.mkdir(parents=True, exist_ok=True)
    (root / "mods-enabled").mkdir(exist_ok=True)
    for name, deps in MODULES.items():
        dep_line = f"# Depends: {' '.join(deps)}\n" if deps else ""
        (avail / f"{name}.load").write_text(
            f"{dep_line}LoadModule {name}_module {MODULE_DIR}/mod_{name}.so\n"
        )
    (avail / "ssl.conf").write_text(
        "<IfModule mod_ssl.c>\n"
        f"\tSSLSessionCache shmcb:{var_dir(root)}/run/ssl_scache(512000)\n"
        "\tSSLSessionCacheTimeout 300\n"
        "</IfModule>\n"
    )
    for name in enabled:
        os.symlink(f"../mods-available/{name}.load", root / "mods-enabled" / f"{name}.load")


@dataclass
class DebianTree:
    """A Debian-layout server root: apache2.conf, ports.conf, sites-*, mods-*."""

    root: Path
    http_port: int
    sites: dict[str, str] = field(default_factory=dict)  # file name -> text ({var}, {port})
    enabled_sites: tuple[str, ...] | None = None  # None: all
    modules: tuple[str, ...] = BASE_ENABLED

    def build(self) -> Path:
        """Write the tree; returns the main file."""
        root = self.root
        var = var_dir(root)
        for sub in ("sites-available", "sites-enabled"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("run", "logs", "htdocs"):
            (var / sub).mkdir(parents=True, exist_ok=True)
        (var / "htdocs" / "index.html").write_text("plain site\n")
        write_modules(root, self.modules)
        (root / "apache2.conf").write_text(
            base_directives(root)
            + "IncludeOptional mods-enabled/*.load\n"
            + "IncludeOptional mods-enabled/*.conf\n"
            + "Include ports.conf\n"
            + f'<Directory "{var}/htdocs">\n    Require all granted\n</Directory>\n'
            + "IncludeOptional sites-enabled/*.conf\n"
        )
        (root / "ports.conf").write_text(f"Listen 127.0.0.1:{self.http_port}\n")
        for name, text in self.sites.items():
            (root / "sites-available" / name).write_text(
                text.replace("{var}", str(var)).replace("{port}", str(self.http_port))
            )
            if self.enabled_sites is None or name in self.enabled_sites:
                os.symlink(f"../sites-available/{name}", root / "sites-enabled" / name)
        return root / "apache2.conf"


class ApacheServer:
    """One apache2 master process started by us, stopped by its PID."""

    def __init__(self, root: Path, conf: Path) -> None:
        self.root = root
        self.conf = conf
        self.proc: subprocess.Popen[bytes] | None = None

    def _args(self) -> list[str]:
        return [APACHE_BIN, "-d", str(self.root), "-f", str(self.conf)]

    def start(self, ports: list[int]) -> None:
        """Run in the foreground (as our child) and wait until ``ports`` accept."""
        log = open(var_dir(self.root) / "logs" / "stderr.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*self._args(), "-D", "FOREGROUND"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        for port in ports:
            while not _accepts(port):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"apache2 exited: {self.error_log()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"apache2 did not listen on {port}: {self.error_log()}")
                time.sleep(0.05)

    def graceful(self) -> None:
        """``apache2 -k graceful``, as the plugin's restart does."""
        subprocess.run([*self._args(), "-k", "graceful"], check=True, timeout=30)

    def wait_port(self, port: int, timeout: float = 10.0) -> None:
        """Bounded wait until ``port`` accepts (after a reload added it)."""
        deadline = time.monotonic() + timeout
        while not _accepts(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"apache2 not listening on {port}: {self.error_log()}")
            time.sleep(0.05)

    def error_log(self) -> str:
        """The tail of the error logs, for failure messages."""
        out = []
        for name in ("error.log", "stderr.log"):
            path = var_dir(self.root) / "logs" / name
            if path.exists():
                out.append(path.read_text(errors="replace")[-2000:])
        return "\n".join(out)

    def stop(self) -> None:
        """SIGTERM the master we started; SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def served_cert_der(port: int, server_name: str) -> bytes:
    """The leaf certificate a TLS handshake with SNI ``server_name`` gets."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def settled_get(
    port: int, host: str, path: str, want: int, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    """``http_get`` until the status is ``want`` or ``timeout`` passes; the last answer.

    ``apache2 -k graceful`` returns once it has signalled the master, and a
    child of the old generation may still answer a request or two with the
    old configuration. A user sees the new one a moment later; this waits
    for that moment, bounded, and returns whatever came last (so a reload
    that never takes effect still fails the caller's assertion).
    """
    deadline = time.monotonic() + timeout
    while True:
        answer = http_get(port, host, path)
        if answer[0] == want or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def http_get(
    port: int, host: str, path: str = "/", tls: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.0 request (SNI and Host = ``host``); returns (status, headers, body)."""
    import http.client

    sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=host)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        body = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, body
    finally:
        sock.close()
