"""Three hosts of one store behind a real haproxy on Pebble's http-01 port, through the CLI.

The deployment docs/fleet.md describes, on loopback: each host its own config
dir, database role and ``certkernel responder``; haproxy (``balance
roundrobin``) in front, so a validation mostly reaches a host other than the
one that ordered. What an operator checks: a certificate ordered through
``-a fleet-http`` on one host is validated through the others and served by
all of them; when all three run ``renew`` at the same moment on a due
lineage, the CA sees one order and every host ends up serving it.
"""

from __future__ import annotations

import datetime
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.fleet import fleet_files, open_pg_store
from tests.infra.fleet_hosts import Host, Store, answered_elsewhere, converged
from tests.infra.haproxy import Haproxy
from tests.infra.minica import MiniCA
from tests.infra.nginx import http_get
from tests.infra.pebble import Pebble
from tests.infra.postgres import HOST_ROLES, ClusterInfo

NAMES = ["rr-1.example", "rr-2.example", "rr-3.example", "rr-4.example"]
LINEAGE = NAMES[0]
TIMEOUT = 240


class Fleet:
    """Hosts a, b and c of one store, their responders, and haproxy in front."""

    def __init__(self, base: Path, cluster: ClusterInfo, pebble: Pebble) -> None:
        self.base, self.pebble = base, pebble
        self.hosts = [Host(label, role, base / label, fleet_files(base, role).cli_args())
                      for label, role in zip("abc", HOST_ROLES, strict=True)]
        self.store = Store(cluster, fleet_files(base).database)
        self.proxy: Haproxy | None = None

    def start(self) -> None:
        for host in self.hosts:
            host.start_responder()
        self.proxy = Haproxy(self.base / "haproxy", self.pebble.http01_port,
                             {h.label: h.responder_port for h in self.hosts}).start()

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        for host in self.hosts:
            host.stop_responder()

    def run(self, host: Host, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(host.argv(self.pebble, *args), capture_output=True, text=True,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False)

    def order_on_a(self) -> None:
        done = self.run(self.hosts[0], "certonly", "-a", "fleet-http",
                        *[arg for name in NAMES for arg in ("-d", name)],
                        "--agree-tos", "-m", "ops@example.org")
        assert done.returncode == 0, done.stderr

    def make_due(self, ca: MiniCA) -> None:
        """A new current version with one day left of ten (due by any rule)."""
        owner = open_pg_store(self.base, 10.0, config_dir=self.base / "admin-etc")
        lineage = owner.load(LINEAGE)
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=9)
        short = ca.issue(NAMES, key=lineage.read("privkey"), days=10, start=start)
        owner.save_version(lineage, short.cert, short.chain, short.fullchain, None)


@pytest.fixture
def fleet(pg_cluster: ClusterInfo, pebble: Pebble, tmp_path: Path) -> Iterator[Fleet]:
    made = Fleet(tmp_path, pg_cluster, pebble)
    try:
        made.start()
        yield made
    finally:
        made.stop()


def test_an_order_from_one_host_is_validated_through_the_others_and_served_by_all(
        fleet: Fleet) -> None:
    assert fleet.proxy is not None
    fleet.order_on_a()

    elsewhere, validations = answered_elsewhere(fleet.hosts, fleet.proxy, 0)
    assert validations >= len(NAMES)  # Pebble may ask more than once per name
    # round robin over three hosts: at most a third (rounded up) reach the orderer
    assert elsewhere > validations / 2
    for host in fleet.hosts[1:]:
        synced = fleet.run(host, "renew", "--no-random-sleep-on-renew")
        assert synced.returncode == 0, synced.stderr
    assert converged(fleet.hosts, fleet.store, [LINEAGE]) == 1
    # The balancer routes as docs/fleet-http.md says: only the challenge path
    # reaches the responders (which would say 404 here); the rest is the site's,
    # none in this test, so haproxy answers 503.
    assert http_get(fleet.proxy.listen_port, NAMES[0], "/")[0] == 503


def test_three_hosts_renewing_at_once_order_once_and_all_serve_it(fleet: Fleet,
                                                                  ca: MiniCA) -> None:
    assert fleet.proxy is not None
    fleet.order_on_a()
    fleet.make_due(ca)
    since, seen = fleet.store.now(), len(fleet.proxy.requests())

    runs = [subprocess.Popen(host.argv(fleet.pebble, "renew", "--no-random-sleep-on-renew"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL) for host in fleet.hosts]
    said = [run.communicate(timeout=TIMEOUT) for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0], [err for _out, err in said]
    assert fleet.store.orders_since(since) == {LINEAGE: 1}
    assert converged(fleet.hosts, fleet.store, [LINEAGE]) == 1
    # the host that ordered says so; the other two serve what it made
    by_another = [out for out, _err in said
                  if f"{LINEAGE}: renewed by another host of the fleet" in out]
    assert len(by_another) == 2
    elsewhere, validations = answered_elsewhere(fleet.hosts, fleet.proxy, seen)
    assert validations >= len(NAMES)
    assert elsewhere > validations / 2
