"""Fixtures: a private nginx / apache2 on Pebble's http-01 port, plus ctl wrappers.

The sites and their CLI runners are the ones of tests/e2e_nginx and
tests/e2e_apache; what this room adds is a control-script wrapper that logs
every invocation (so a test counts reloads) and can be told to refuse
``-t``, and a dns-01 hook so renewals need no reload of their own.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e_apache.conftest import SITE as APACHE_SITE
from tests.e2e_apache.conftest import Site as ApacheSite
from tests.e2e_nginx.conftest import SITE as NGINX_SITE
from tests.e2e_nginx.conftest import Site as NginxSite
from tests.infra.apache import ApacheServer, DebianTree, readable_tempdir
from tests.infra.nginx import NGINX_BIN, Nginx
from tests.infra.pebble import Pebble, free_port

OTHER_NGINX = NGINX_SITE.replace("example.test www.example.test", "other.test") \
    .replace("plain site", "other site").replace("# the example site", "# the other site")


def ctl_wrapper(folder: Path, name: str, real: str,
                refuse: str = "-t") -> tuple[Path, Path, Path]:
    """A wrapper around ``real`` that logs its arguments; while a flag file exists it
    fails every call with the argument ``refuse`` (``-t``: config test, ``graceful``).

    Returns (wrapper, log, flag).
    """
    log = folder / f"{name}.log"
    flag = folder / f"{name}.refuse"
    wrapper = folder / name
    wrapper.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$*" >> "{log}"
        if [ -e "{flag}" ]; then
          for arg in "$@"; do
            if [ "$arg" = "{refuse}" ]; then
              echo "refused by the test wrapper" >&2; exit 1
            fi
          done
        fi
        exec {real} "$@"
        """))
    wrapper.chmod(0o755)
    return wrapper, log, flag


def reloads(log: Path, words: tuple[str, ...]) -> int:
    """How many logged invocations were reloads (``-s reload`` / ``-k graceful``)."""
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if all(w in line.split() for w in words))


def dns_hooks(folder: Path, pebble: Pebble) -> list[str]:
    """``--manual`` dns-01 flags whose hooks set and clear the TXT record in challtestsrv."""
    for file_name, call, value in (("auth.py", "set-txt", ', "value": os.environ["CERTBOT_VALIDATION"]'),
                                   ("cleanup.py", "clear-txt", "")):
        path = folder / file_name
        path.write_text(textwrap.dedent(f"""\
            #!{sys.executable}
            import json, os, urllib.request
            body = json.dumps({{"host": "_acme-challenge." + os.environ["CERTBOT_DOMAIN"] + "."
                               {value}}}).encode()
            req = urllib.request.Request("{pebble.challtestsrv_url}/{call}", data=body,
                                         method="POST")
            urllib.request.urlopen(req, timeout=10).read()
            """))
        path.chmod(0o755)
    return ["-a", "manual", "--manual-auth-hook", str(folder / "auth.py"),
            "--manual-cleanup-hook", str(folder / "cleanup.py"), "--preferred-challenges", "dns"]


@pytest.fixture
def nginx_site(tmp_path: Path, pebble: Pebble) -> Iterator[NginxSite]:
    """nginx with two plain sites (example.test, other.test) on Pebble's http-01 port."""
    root = tmp_path / "nginx"
    (root / "sites").mkdir(parents=True)
    server = Nginx(root)
    server.write("    include sites/*.conf;\n")
    (root / "sites" / "example.conf").write_text(NGINX_SITE.format(port=pebble.http01_port))
    (root / "sites" / "other.conf").write_text(OTHER_NGINX.format(port=pebble.http01_port))
    with server:
        yield NginxSite(server, root, tmp_path, pebble.http01_port, free_port(), pebble)


@pytest.fixture
def nginx_bin() -> str:
    return NGINX_BIN


@pytest.fixture
def apache_site(pebble: Pebble) -> Iterator[ApacheSite]:
    """A plain Debian-layout apache2 vhost for example.test on Pebble's http-01 port."""
    base = readable_tempdir("ck-renew-apache-")
    root = base / "apache2"
    conf = DebianTree(root, pebble.http01_port, {"example.conf": APACHE_SITE}).build()
    server = ApacheServer(root, conf)
    server.start([pebble.http01_port])
    try:
        yield ApacheSite(server, root, base, pebble.http01_port, free_port(), pebble)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
