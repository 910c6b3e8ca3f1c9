"""Fleet mode behind nginx: the installer sends /.well-known/acme-challenge/ to the responder.

A real nginx on Pebble's http-01 port, ``certkernel responder`` on another
port sharing the host's work dir. The first certificate goes in with the
nginx plugin and ``--nginx-fleet-responder``; from then on ``-a fleet-http``
validates through nginx's proxy location, and the site itself is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel.fleet.challenge_board import BOARD_DIR, LocalBoard
from tests.infra.board_backends import KEY_AUTHORIZATION, TOKEN
from tests.infra.nginx import http_get
from tests.infra.nginx_site import SITE, Site, running_site
from tests.infra.pebble import Pebble
from tests.infra.responder import ResponderProcess

PREFIX = "/.well-known/acme-challenge/"


@pytest.fixture
def fleet_site(tmp_path: Path, pebble: Pebble) -> Iterator[tuple[Site, ResponderProcess]]:
    with running_site(tmp_path, pebble, {"example.conf": SITE}) as site:
        responder = ResponderProcess(tmp_path / "responder")
        # the responder serves this host's board: the work dir certkernel uses here
        responder.base = site.base
        responder.start()
        try:
            yield site, responder
        finally:
            responder.stop()


def test_nginx_proxies_challenges_to_the_responder_and_fleet_http_validates_through_it(
        fleet_site: tuple[Site, ResponderProcess]) -> None:
    site, responder = fleet_site
    flag = ["--nginx-fleet-responder", f"127.0.0.1:{responder.port}"]
    first = site.cli("run", "--nginx", "-d", "example.test", "--no-redirect", *flag)
    assert first.returncode == 0, first.stderr
    conf = (site.root / "sites" / "example.conf").read_text()
    assert conf.count(f"location ^~ {PREFIX} {{") == 2  # the HTTP block and its TLS block
    assert conf.count(f"proxy_pass http://127.0.0.1:{responder.port};") == 2

    # nginx now hands any published token to the responder, and only tokens.
    board = LocalBoard(str(site.work_dir / BOARD_DIR))
    board.publish(TOKEN, KEY_AUTHORIZATION)
    assert http_get(site.http_port, "example.test", PREFIX + TOKEN)[::2] == (
        200, KEY_AUTHORIZATION.encode())
    board.withdraw(TOKEN)
    assert http_get(site.http_port, "example.test", PREFIX + TOKEN)[0] == 404
    assert http_get(site.http_port, "example.test", "/")[::2] == (200, b"plain site\n")

    # A renewal through -a fleet-http validates via nginx -> responder -> board.
    before = site.live_serial()
    again = site.cli("certonly", "-a", "fleet-http", "-d", "example.test", "--force-renewal")
    assert again.returncode == 0, again.stderr
    assert site.live_serial() != before
    assert list((site.work_dir / BOARD_DIR).iterdir()) == []

    # Deploying again (renew) adds no second location: nginx -t would refuse a duplicate.
    redeploy = site.cli("run", "--nginx", "-d", "example.test", "--no-redirect",
                        "--force-renewal", *flag)
    assert redeploy.returncode == 0, redeploy.stderr
    assert (site.root / "sites" / "example.conf").read_text().count(
        f"location ^~ {PREFIX} {{") == 2


def test_a_responder_address_that_is_not_ip_port_is_one_clear_line(
        fleet_site: tuple[Site, ResponderProcess]) -> None:
    site, _ = fleet_site
    before = site.snapshot()
    done = site.cli("run", "--nginx", "-d", "example.test", "--nginx-fleet-responder",
                    "responder.internal")
    assert done.returncode == 1
    assert ("--nginx-fleet-responder responder.internal: give the responder's address as "
            "IP:PORT") in done.stderr
    assert site.snapshot() == before
