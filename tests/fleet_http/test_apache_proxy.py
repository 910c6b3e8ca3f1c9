"""Fleet mode behind apache2: the installer proxies /.well-known/acme-challenge/ to the responder.

A real apache2 (Debian layout) on Pebble's http-01 port, ``certkernel
responder`` on another port sharing the host's work dir. The first
certificate goes in with the apache plugin (redirect on, the default) and
``--apache-fleet-responder``; then ``-a fleet-http`` validates through
apache's proxy rule, past the redirect, and the site itself is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certkernel.fleet.challenge_board import BOARD_DIR, LocalBoard
from tests.infra.apache import http_get
from tests.infra.apache_site import Site, running_site
from tests.infra.board_backends import KEY_AUTHORIZATION, TOKEN
from tests.infra.pebble import Pebble
from tests.infra.responder import ResponderProcess

PREFIX = "/.well-known/acme-challenge/"


@pytest.fixture
def fleet_site(pebble: Pebble) -> Iterator[tuple[Site, ResponderProcess]]:
    with running_site(pebble, "ck-fleet-apache-") as site:
        responder = ResponderProcess(site.base).start()  # serves site.base/work's board
        try:
            yield site, responder
        finally:
            responder.stop()


def proxy_lines(site: Site) -> list[str]:
    """The challenge lines of the site files (sites-enabled holds links to the same files)."""
    return [line.strip() for conf in sorted((site.root / "sites-available").glob("*.conf"))
            for line in conf.read_text().splitlines() if "acme-challenge" in line]


def test_apache_proxies_challenges_to_the_responder_past_the_redirect(
        fleet_site: tuple[Site, ResponderProcess]) -> None:
    site, responder = fleet_site
    flag = ["--apache-fleet-responder", f"127.0.0.1:{responder.port}"]
    first = site.cli("run", "--apache", "-d", "example.test", *flag)
    assert first.returncode == 0, first.stderr
    expected = (r"RewriteRule ^/\.well-known/acme-challenge/([A-Za-z0-9_-]+)$ "
                f"http://127.0.0.1:{responder.port}{PREFIX}$1 [P,END]")
    assert proxy_lines(site) == [expected, expected]  # the HTTP vhost and its SSL copy
    assert (site.root / "mods-enabled" / "proxy_http.load").is_symlink()

    board = LocalBoard(str(site.work_dir / BOARD_DIR))
    board.publish(TOKEN, KEY_AUTHORIZATION)
    assert http_get(site.http_port, "example.test", PREFIX + TOKEN)[::2] == (
        200, KEY_AUTHORIZATION.encode())
    board.withdraw(TOKEN)
    assert http_get(site.http_port, "example.test", PREFIX + TOKEN)[0] == 404
    assert http_get(site.http_port, "example.test", "/")[0] == 301  # the redirect still works

    before = site.live_serial()
    again = site.cli("certonly", "-a", "fleet-http", "-d", "example.test", "--force-renewal")
    assert again.returncode == 0, again.stderr
    assert site.live_serial() != before
    assert list((site.work_dir / BOARD_DIR).iterdir()) == []

    redeploy = site.cli("run", "--apache", "-d", "example.test", "--force-renewal", *flag)
    assert redeploy.returncode == 0, redeploy.stderr
    assert proxy_lines(site) == [expected, expected]
