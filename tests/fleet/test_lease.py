"""The fleet lock: a lease row whose expiry the database's clock decides.

The holder is a real process of another host role; it dies by SIGKILL (its
connection closes: the lease is free at once), or stops dead with its
connection open (SIGSTOP, as a host that vanished from the network): then
the lease lapses after its TTL and not before, and never while a live
holder's heartbeat renews it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certkernel.errors import LockError
from tests.infra.fleet import fleet_files, open_pg_store
from tests.infra.minica import MiniCA
from tests.infra.postgres import HOST_ROLES, ClusterInfo
from tests.infra.store_backends import ROOT, child_env

PARAMS = {"authenticator": "standalone", "key_type": "ecdsa"}


FAKED = ("faketime", "+1300 days")  # as bench/fleet.py makes every lineage due


def _holder(base: Path, name: str, ttl: float, *, prefix: tuple[str, ...] = (),
            save_from: Path | None = None) -> subprocess.Popen[str]:
    """Another host's process (role fleet_host_b) holding ``name``'s lease until killed.

    With ``save_from``, it saves the PEM files there as ``name``'s next version
    when a line reaches its stdin (``tests.infra.fleet hold-save``).
    """
    mode = ["hold", str(base), name, str(ttl)]
    if save_from is not None:
        mode = ["hold-save", str(base), name, str(ttl), str(save_from)]
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "tests.infra.fleet", *mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env=child_env())
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()  # SIGKILL ends a stopped process too
    proc.wait(timeout=10)


def test_a_sigkilled_holder_on_another_role_frees_the_lease_at_once(
        pg_cluster: ClusterInfo, tmp_path: Path) -> None:
    holder = _holder(tmp_path, "dies.example", 30.0)
    blocked = open_pg_store(tmp_path, 0.2, role=HOST_ROLES[0]).lock("dies.example")
    with pytest.raises(LockError, match=f"PID {holder.pid} on "):
        blocked.acquire()
    holder.kill()
    holder.wait(timeout=10)
    started = time.monotonic()
    lock = open_pg_store(tmp_path, 20.0, role=HOST_ROLES[0]).lock("dies.example")
    lock.acquire()
    assert time.monotonic() - started < 10  # not the 30 s TTL: the dead backend frees it
    lock.release()


def test_a_frozen_holder_loses_the_lease_after_its_ttl(pg_cluster: ClusterInfo,
                                                       tmp_path: Path) -> None:
    holder = _holder(tmp_path, "frozen.example", 3.0)
    try:
        holder.send_signal(signal.SIGSTOP)  # alive, connection open, no more heartbeats
        frozen_at = time.monotonic()
        early = open_pg_store(tmp_path, 0.5, role=HOST_ROLES[0]).lock("frozen.example")
        with pytest.raises(LockError, match="lease expires in"):
            early.acquire()
        late = open_pg_store(tmp_path, 30.0, role=HOST_ROLES[0]).lock("frozen.example")
        late.acquire()
        waited = time.monotonic() - frozen_at
        assert 1.0 < waited < 30.0
        late.release()
    finally:
        _stop(holder)


def test_a_live_holder_keeps_a_short_lease_by_heartbeat(pg_cluster: ClusterInfo,
                                                        tmp_path: Path) -> None:
    holder = _holder(tmp_path, "alive.example", 1.0)
    try:
        time.sleep(3.5)  # more than three TTLs
        other = open_pg_store(tmp_path, 0.0, role=HOST_ROLES[0]).lock("alive.example")
        with pytest.raises(LockError, match=f"PID {holder.pid} "):
            other.acquire()
    finally:
        _stop(holder)


def test_a_holder_under_a_faked_clock_keeps_its_lease_by_heartbeat(
        pg_cluster: ClusterInfo, tmp_path: Path) -> None:
    """``faketime`` (how tests and the fleet bench make certificates due) moves the
    monotonic clock too: a heartbeat that waits on it never beats, and the lease of a
    live holder lapses under a renewal that takes longer than the TTL."""
    holder = _holder(tmp_path, "faked.example", 1.0, prefix=FAKED)
    try:
        time.sleep(3.5)  # more than three TTLs
        other = open_pg_store(tmp_path, 0.0, role=HOST_ROLES[0]).lock("faked.example")
        with pytest.raises(LockError, match="holds the fleet lock on the certificate lineage "
                                            "faked.example"):
            other.acquire()
    finally:
        _stop(holder)


def test_a_holder_frozen_past_its_lease_cannot_save_a_version(
        pg_cluster: ClusterInfo, ca: MiniCA, tmp_path: Path) -> None:
    """The lease is a fence: a host that resumes after another took its lineage over
    (and renewed it) must not add a second version of the same window."""
    name = "fenced.example"
    first = ca.issue([name])
    owner = open_pg_store(tmp_path, 5.0, role=HOST_ROLES[0], config_dir=tmp_path / "a-etc")
    owner.create(name, first.cert, first.chain, first.fullchain, first.key, PARAMS)
    late = ca.issue([name], key=first.key)
    files = tmp_path / "late"
    files.mkdir()
    for kind in ("cert", "chain", "fullchain"):
        (files / f"{kind}.pem").write_bytes(getattr(late, kind))
    holder = _holder(tmp_path, name, 1.0, save_from=files)
    try:
        holder.send_signal(signal.SIGSTOP)  # frozen in the middle of its order
        taker = open_pg_store(tmp_path, 30.0, role=HOST_ROLES[0], config_dir=tmp_path / "a-etc")
        lock = taker.lock(name)
        lock.acquire()  # after the frozen holder's lease ran out
        renewed = ca.issue([name], key=first.key)
        lineage = taker.load(name)
        assert taker.save_version(lineage, renewed.cert, renewed.chain, renewed.fullchain,
                                  None) == 2
        holder.send_signal(signal.SIGCONT)
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("save\n")
        holder.stdin.flush()
        said = holder.stdout.readline().strip()
        lock.release()
    finally:
        _stop(holder)
    assert said.startswith("refused: "), said
    assert "fleet lock on the certificate lineage fenced.example" in said
    assert "\n" not in said
    store = open_pg_store(tmp_path, 5.0, config_dir=tmp_path / "check-etc")
    assert store.load(name).version == 2
    assert store.load(name).read("cert") == renewed.cert


def test_a_holder_whose_connection_is_cut_knows_it_lost_the_lease(pg_cluster: ClusterInfo,
                                                                  tmp_path: Path) -> None:
    store = open_pg_store(tmp_path, 5.0, role=HOST_ROLES[0], lease_ttl=0.6)
    lock = store.lock("cut.example")
    lock.acquire()
    assert lock.held
    with pg_cluster.connect(database=fleet_files(tmp_path).database, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(backend_pid) FROM leases "
                      "WHERE name = 'cut.example'")
    deadline = time.monotonic() + 10
    while lock.held and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not lock.held
    other = open_pg_store(tmp_path, 5.0, role=HOST_ROLES[1]).lock("cut.example")
    other.acquire()
    assert other.held
    other.release()
    lock.release()  # harmless after the loss


def test_an_unreachable_store_is_a_lock_error_in_one_line(pg_cluster: ClusterInfo,
                                                          tmp_path: Path) -> None:
    import dataclasses

    from tests.infra.pebble import free_port

    store = open_pg_store(tmp_path, 1.0)
    closed = store.db.settings.url.replace(str(pg_cluster.port), str(free_port()))
    store.db.settings = dataclasses.replace(store.db.settings, url=closed)
    lock = store.lock("away.example")
    with pytest.raises(LockError) as caught:
        lock.acquire()
    message = str(caught.value)
    assert message.startswith("cannot take the fleet lock on the certificate lineage "
                              "away.example: fleet store ")
    assert "is unreachable" in message
    assert "\n" not in message
    assert not lock.held
