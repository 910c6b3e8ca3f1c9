"""Fixtures: a private nginx / apache2 on Pebble's http-01 port, plus ctl wrappers.

The sites and their CLI runners are tests/infra/nginx_site.py and
tests/infra/apache_site.py (tests/e2e_nginx and tests/e2e_apache use them
too); what this room adds is a control-script wrapper that logs every
invocation (so a test counts reloads) and can be told to refuse ``-t``.
Its dns-01 flags (renewals that need no reload of their own) are
tests/infra/cli_run.py's ``dns_hooks``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.apache_site import Site as ApacheSite
from tests.infra.apache_site import running_site as running_apache
from tests.infra.nginx import NGINX_BIN
from tests.infra.nginx_site import SITE as NGINX_SITE
from tests.infra.nginx_site import Site as NginxSite
from tests.infra.nginx_site import running_site as running_nginx
from tests.infra.pebble import Pebble

OTHER_NGINX = NGINX_SITE.replace("example.test www.example.test", "other.test") \
    .replace("plain site", "other site").replace("# the example site", "# the other site")


def ctl_wrapper(folder: Path, name: str, real: str, refuse: str = "-t",
                log_dir: Path | None = None) -> tuple[Path, Path, Path]:
    """A wrapper around ``real`` that logs its arguments; while a flag file exists it
    fails every call with the argument ``refuse`` (``-t``: config test, ``graceful``).

    The installer runs it confined by Landlock to the paths its manifest
    declares, so the log goes to ``log_dir``, a folder the installer may
    write (its server root, or the folder given as its logs root).

    Returns (wrapper, log, flag).
    """
    log = (log_dir or folder) / f"{name}.log"
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


@pytest.fixture
def nginx_site(tmp_path: Path, pebble: Pebble) -> Iterator[NginxSite]:
    """nginx with two plain sites (example.test, other.test) on Pebble's http-01 port."""
    with running_nginx(tmp_path, pebble, {"example.conf": NGINX_SITE,
                                          "other.conf": OTHER_NGINX}) as site:
        yield site


@pytest.fixture
def nginx_bin() -> str:
    return NGINX_BIN


@pytest.fixture
def apache_site(pebble: Pebble) -> Iterator[ApacheSite]:
    """A plain Debian-layout apache2 vhost for example.test on Pebble's http-01 port."""
    with running_apache(pebble, "ck-renew-apache-") as site:
        yield site
