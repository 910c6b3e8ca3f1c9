"""A private PostgreSQL cluster for tests: initdb and pg_ctl in a temp dir, on loopback.

Why this exists: fleet mode is tested against the real PostgreSQL the
``postgresql`` package installs, never a mock, and a test session must not
touch (or need) the machine's own cluster. So, as Pebble is started, one
cluster per session is made in a temporary folder owned by the unprivileged
``postgres`` system user (initdb refuses root), listening on 127.0.0.1 on a
port free at run time, its unix socket inside the folder; it is stopped by
the postmaster's PID at the end.

Passwords are required for every TCP connection (scram-sha-256), so a test
that forgets a role's password fails as a real deployment would. Roles:

- ``postgres``: the superuser, used only here (create databases and roles);
- ``certkernel_owner``: owns each store database and applies the migrations;
- ``certkernel_hosts``: a group role (NOLOGIN) holding the hosts' grants
  (``certkernel.fleet.schema.host_grants``);
- ``fleet_host_a``, ``fleet_host_b``, ``fleet_host_c``: one login role per
  host, members of ``certkernel_hosts``.

Other processes of a test (lock holders, CLI runs) find the cluster through
the file :data:`ENV` names (see :func:`child_env_entry`).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.infra.pebble import free_port
from tests.infra.processes import wait_gone

ENV = "CERTKERNEL_TEST_PG"  # path of the running cluster's JSON description
OWNER = "certkernel_owner"
HOSTS_GROUP = "certkernel_hosts"
HOST_ROLES = ("fleet_host_a", "fleet_host_b", "fleet_host_c")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def pg_bin(tool: str) -> str:
    """``/usr/lib/postgresql/<newest>/bin/<tool>``."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found:
        raise RuntimeError(f"no {tool} under /usr/lib/postgresql/*/bin: "
                           "install PostgreSQL (scripts/setup.sh does)")
    return found[-1]


@dataclass
class ClusterInfo:
    """What a client needs: where the cluster listens and each role's password."""

    base: str
    port: int
    passwords: dict[str, str] = field(default_factory=dict)

    def url(self, role: str, database: str) -> str:
        """A store URL without its password (the password comes from a file)."""
        return f"postgresql://{role}@127.0.0.1:{self.port}/{database}"

    def password_file(self, role: str) -> Path:
        """A 0600 file holding ``role``'s password, as an operator would keep it
        (all are written when the cluster starts)."""
        return Path(self.base) / "secrets" / f"{role}.password"

    def write_password_files(self) -> None:
        folder = Path(self.base) / "secrets"
        folder.mkdir(mode=0o700, exist_ok=True)
        for role, password in self.passwords.items():
            fd = os.open(self.password_file(role), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password + "\n")

    def connect(self, role: str = "postgres", database: str = "postgres",
                **kwargs: Any) -> Any:
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=role,
                               password=self.passwords[role], dbname=database,
                               connect_timeout=10, **kwargs)

    def store_database(self, key: str) -> str:
        """A store database for ``key`` (a test's folder), made once, migrated by the owner,
        with the hosts' grants; safe when several processes ask at once."""
        name = "ck_" + hashlib.sha256(key.encode()).hexdigest()[:20]
        with self.connect(autocommit=True) as admin:
            admin.execute("SELECT pg_advisory_lock(4242)")
            try:
                exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                       (name,)).fetchone()
                if exists is None:
                    admin.execute(f'CREATE DATABASE "{name}" OWNER {OWNER}')
                    self._prepare(name)
            finally:
                admin.execute("SELECT pg_advisory_unlock(4242)")
        return name

    def _prepare(self, database: str) -> None:
        from certkernel.fleet import schema

        with self.connect(OWNER, database, autocommit=True) as owner:
            owner.execute("REVOKE ALL ON DATABASE " + f'"{database}"' + " FROM PUBLIC")
            owner.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {HOSTS_GROUP}')
        with self.connect(OWNER, database) as owner:
            schema.migrate(owner)
            for statement in schema.host_grants(HOSTS_GROUP):
                owner.execute(statement)
            owner.commit()

    def save(self) -> Path:
        path = Path(self.base) / "cluster.json"
        path.write_text(json.dumps(asdict(self)))
        path.chmod(0o600)
        return path

    @classmethod
    def load(cls, path: str) -> ClusterInfo:
        return cls(**json.loads(Path(path).read_text()))


def clock_from_file(path: Path) -> dict[str, str]:
    """The environment that sets a program's clock from ``path`` under libfaketime.

    ``path`` holds an offset (``+0``, ``+1300d``), read at every clock call:
    a drill moves the server's time forward and back while it runs. The
    monotonic clock stays real: ``pg_ctl -w`` and the server's own waits and
    timeouts run on it.
    """
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        raise RuntimeError("libfaketime is not installed: run scripts/setup.sh "
                           "(apt-get install faketime)")
    return {"LD_PRELOAD": found[0], "FAKETIME_TIMESTAMP_FILE": str(path),
            "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


class PgCluster:
    """One private cluster: :meth:`start`, use :attr:`info`, :meth:`stop` (by PID)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "data"
        self.info = ClusterInfo(str(base), 0, {role: secrets.token_urlsafe(18) for role in
                                               ("postgres", OWNER, *HOST_ROLES)})
        self.pid: int | None = None
        self._as_postgres = os.geteuid() == 0

    def _run(self, argv: list[str], timeout: float,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self._as_postgres:
            kwargs.update(user="postgres", group="postgres", extra_groups=[])
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                              cwd=str(self.base),
                              env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **(env or {})},
                              check=False, **kwargs)

    def start(self, clock_file: Path | None = None) -> ClusterInfo:
        """initdb, then the server on a free loopback port.

        ``clock_file``: the server's clock follows the offset in that file
        (:func:`clock_from_file`, in the postmaster and every backend). Fleet
        mode decides what is due by the database's clock, so a drill that
        makes lineages due by faking the hosts' clocks (bench/fleet.py)
        moves the database's along with them.
        """
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o711)
        pwfile = self.base / "superuser.pw"
        pwfile.write_text(self.info.passwords["postgres"] + "\n")
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        pwfile.chmod(0o600)
        init = self._run([pg_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                          "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
                          f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"], 120)
        pwfile.unlink()
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.strip()}")
        for attempt in range(3):
            self.info.port = free_port()
            options = (f"-k {self.base} -p {self.info.port} -c listen_addresses=127.0.0.1 "
                       "-c fsync=off -c max_connections=200")
            started = self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-o", options,
                                 "-l", str(self.base / "postgres.log"), "-w",
                                 "-t", str(int(START_TIMEOUT)), "start"], START_TIMEOUT + 10,
                                env=clock_from_file(clock_file) if clock_file else None)
            if started.returncode == 0:
                break
            if attempt == 2:
                log = (self.base / "postgres.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {log}")
        self.pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        self._roles()
        self.info.write_password_files()
        return self.info

    def _roles(self) -> None:
        with self.info.connect(autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {OWNER} LOGIN PASSWORD "
                          f"{_literal(self.info.passwords[OWNER])}")
            admin.execute(f"CREATE ROLE {HOSTS_GROUP} NOLOGIN")
            for role in HOST_ROLES:
                admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD "
                              f"{_literal(self.info.passwords[role])} IN ROLE {HOSTS_GROUP}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster), then immediate (SIGQUIT) if it lingers."""
        if self.pid is None:
            return
        for sig, wait in ((signal.SIGINT, STOP_TIMEOUT), (signal.SIGQUIT, 10.0)):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            if wait_gone([self.pid], wait):
                break
        self.pid = None

    def __enter__(self) -> ClusterInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _literal(text: str) -> str:
    """A SQL string literal for DDL, which takes no parameters (our own random tokens)."""
    if "'" in text or "\\" in text:
        raise ValueError("unexpected quote in a generated password")
    return f"'{text}'"


_RUNNING: ClusterInfo | None = None


def set_running(info: ClusterInfo | None) -> None:
    """Record the session's cluster so backends and child processes can find it."""
    global _RUNNING
    _RUNNING = info


def running() -> ClusterInfo:
    """The cluster of this test session: this process's, or the one :data:`ENV` names."""
    if _RUNNING is not None:
        return _RUNNING
    path = os.environ.get(ENV)
    if not path:
        raise RuntimeError("no PostgreSQL test cluster: use the pg_cluster fixture")
    return ClusterInfo.load(path)


def child_env_entry() -> dict[str, str]:
    """``{ENV: path}`` when a cluster runs, for the environment of child processes."""
    if _RUNNING is None:
        return {ENV: os.environ[ENV]} if ENV in os.environ else {}
    return {ENV: str(Path(_RUNNING.base) / "cluster.json")}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ClusterInfo]:
    """The session's private cluster (import this fixture into a conftest to use it)."""
    # Under /tmp, not pytest's base: the postgres user must reach it whatever the
    # base's parents are (a --basetemp under a 0700 home, say).
    base = Path(tempfile.mkdtemp(prefix="certkernel-pg-"))
    cluster = PgCluster(base)
    try:
        info = cluster.start()
        info.save()
        set_running(info)
        yield info
    finally:
        set_running(None)
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
