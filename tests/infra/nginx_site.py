"""A private nginx on Pebble's http-01 port, with the certkernel dirs of one test.

nginx listens for plain HTTP on Pebble's http-01 port (127.0.0.1), so Pebble
validates the nginx authenticator's challenge responses on the real server;
the HTTPS port is free and chosen at run time. Used by tests/e2e_nginx and
tests/e2e_renew_install.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.infra.e2e_site import CliSite
from tests.infra.nginx import Nginx
from tests.infra.pebble import Pebble, free_port

SITE = (
    "# the example site\n"
    "server {{\n"
    "    listen 127.0.0.1:{port};\n"
    "    server_name example.test www.example.test;\n"
    "\n"
    "    location / {{\n"
    '        return 200 "plain site\\n";\n'
    "    }}\n"
    "}}\n"
)


@dataclass
class Site(CliSite):
    """A running private nginx, its ports, and the certkernel directories of the test."""

    nginx: Nginx
    root: Path
    base: Path
    http_port: int
    https_port: int
    pebble: Pebble
    server_root_flag = "--nginx-server-root"

    def snapshot(self) -> dict[str, bytes]:
        """Every configuration file under the server root, by relative path."""
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*"))
                if p.is_file() and p.suffix == ".conf"}


@contextmanager
def running_site(base: Path, pebble: Pebble, sites: dict[str, str], *, http_extra: str = "",
                 start: bool = True, pid: str | None = None, run_prefix: Path | None = None,
                 error_log: bool = True) -> Iterator[Site]:
    """nginx under ``base/nginx`` including ``sites/*.conf`` (name -> SITE-style template).

    Templates may use ``{port}`` (http-01) and ``{https_port}``. ``pid`` is the
    directive as written, relative to ``run_prefix`` (nginx's ``-p``) unless
    absolute. With ``start=False`` nginx is left stopped, and whatever master
    the test got started (daemonised) is stopped by its pid file afterwards.
    """
    root = base / "nginx"
    (root / "sites").mkdir(parents=True)
    prefix = run_prefix or root
    pid_path = Path(pid) if pid and Path(pid).is_absolute() else prefix / pid if pid else None
    server = Nginx(root, pid_path=pid_path, run_prefix=prefix)
    server.write(f"{http_extra}    include sites/*.conf;\n", pid=pid, error_log=error_log)
    https_port = free_port()
    for name, template in sites.items():
        (root / "sites" / name).write_text(template.format(port=pebble.http01_port, https_port=https_port))
    site = Site(server, root, base, pebble.http01_port, https_port, pebble)
    try:
        if start:
            with server:
                yield site
        else:
            yield site
    finally:
        server.stop_daemon()
