"""Two hosts of one fleet store, driven through the command line (fleet CLI tests).

Why here: the renew and delete tests of fleet mode both need "host a ordered
NAME through Pebble, host b shares the store", and test packages must not
import each other.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

from tests.infra.cli_run import Dirs, ck, obtain, ok
from tests.infra.fleet import FleetFiles, fleet_files, open_pg_store
from tests.infra.minica import MiniCA
from tests.infra.pebble import Pebble
from tests.infra.postgres import HOST_ROLES, OWNER, ClusterInfo

RENEW = ("renew", "--no-random-sleep-on-renew")


class Fleet:
    """Hosts a and b of one store; host a ordered ``name`` through Pebble (version 1)."""

    def __init__(self, base: Path, cluster: ClusterInfo, pebble: Pebble, hook: Path,
                 name: str) -> None:
        self.base, self.cluster, self.pebble, self.hook = base, cluster, pebble, hook
        self.name = name
        self.hosts = {label: Dirs.under(base / label) for label in ("a", "b")}
        self.files: dict[str, FleetFiles] = {"a": fleet_files(base, HOST_ROLES[0]),
                                             "b": fleet_files(base, HOST_ROLES[1])}
        self.obtain("a")

    def obtain(self, label: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """``certonly`` of ``name`` on host ``label``, in fleet mode unless told otherwise."""
        fleet = () if "--no-store" in extra else tuple(self.files[label].cli_args())
        rest = tuple(arg for arg in extra if arg != "--no-store")
        return ok(obtain(self.hosts[label], self.pebble, self.hook, self.name,
                         extra=fleet + rest))

    def run(self, label: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Any command on host ``label`` in fleet mode."""
        return ck(self.hosts[label], *args, *self.files[label].cli_args(), pebble=self.pebble)

    def renew_argv(self, label: str, *extra: str) -> list[str]:
        dirs = self.hosts[label]
        return [sys.executable, "-m", "certkernel", *RENEW, *self.files[label].cli_args(),
                *dirs.args(), "--server", self.pebble.directory_url, "--ca-bundle",
                self.pebble.ca_bundle, "-n", *extra]

    def renew(self, label: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.renew_argv(label, *extra), capture_output=True, text=True,
                              timeout=240)

    def live_cert(self, label: str) -> bytes:
        return (self.hosts[label].config / "live" / self.name / "cert.pem").read_bytes()

    def versions(self) -> list[int]:
        with self.cluster.connect(OWNER, self.files["a"].database) as conn:
            return [row[0] for row in conn.execute(
                "SELECT version FROM versions WHERE lineage = %s ORDER BY version",
                (self.name,)).fetchall()]

    def make_due(self, ca: MiniCA) -> None:
        """A new current version with one day left of ten (due by any rule)."""
        store = open_pg_store(self.base, 10.0, config_dir=self.hosts["a"].config)
        lineage = store.load(self.name)
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=9)
        short = ca.issue([self.name], key=lineage.read("privkey"), days=10, start=start)
        store.save_version(lineage, short.cert, short.chain, short.fullchain, None)
