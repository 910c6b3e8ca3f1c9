"""``renew`` in fleet mode, through the command line: two config dirs as two hosts, the
real PostgreSQL and Pebble. Convergence, deploy hooks only on change, one order per window
when both hosts renew at the same moment, and the fall-back when the store is away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certkernel import crypto
from tests.infra.cli_run import ok
from tests.infra.fleet import open_pg_store
from tests.infra.fleet_cli import Fleet
from tests.infra.minica import MiniCA
from tests.infra.pebble import Pebble, free_port
from tests.infra.postgres import HOST_ROLES, ClusterInfo

NAME = "renew-fleet.example"


@pytest.fixture
def fleet(pg_cluster: ClusterInfo, pebble: Pebble, hook: Path, tmp_path: Path) -> Fleet:
    return Fleet(tmp_path, pg_cluster, pebble, hook, NAME)


def _marker_hook(path: Path) -> tuple[str, str]:
    return ("--deploy-hook", f'echo "$RENEWED_LINEAGE" >> {path}')


def test_renew_brings_the_other_hosts_version_and_deploys_only_on_change(
        fleet: Fleet, tmp_path: Path) -> None:
    marker = tmp_path / "deployed-on-b"
    first = fleet.renew("b", *_marker_hook(marker))
    assert first.returncode == 0, first.stderr
    assert fleet.live_cert("b") == fleet.live_cert("a")
    assert f"{NAME}: renewed by another host of the fleet; version 1 is now in" in first.stdout
    live_b = fleet.hosts["b"].config / "live" / NAME
    assert marker.read_text().splitlines() == [str(live_b)]
    again = fleet.renew("b", *_marker_hook(marker))
    assert again.returncode == 0, again.stderr
    assert marker.read_text().splitlines() == [str(live_b)]  # nothing new: no hook
    ok(fleet.renew("a", "--force-renewal"))
    assert fleet.versions() == [1, 2]
    third = fleet.renew("b", *_marker_hook(marker))
    assert third.returncode == 0, third.stderr
    assert marker.read_text().splitlines() == [str(live_b), str(live_b)]
    assert fleet.live_cert("b") == fleet.live_cert("a")


def test_two_hosts_renewing_at_once_order_once(fleet: Fleet, ca: MiniCA) -> None:
    fleet.make_due(ca)
    assert fleet.versions() == [1, 2]
    procs = [subprocess.Popen(fleet.renew_argv(label), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for label in ("a", "b")]
    outputs = [proc.communicate(timeout=240) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"{out}\n{err}"
    assert fleet.versions() == [1, 2, 3], outputs  # one order for the window, not two
    successes = sum(out.count("(success)") for out, _err in outputs)
    assert successes == 1
    assert fleet.live_cert("a") == fleet.live_cert("b")
    info = crypto.cert_info(fleet.live_cert("b"))
    assert (info.not_after - info.not_before).days > 365  # Pebble's, not the 10-day one


def test_without_the_store_renew_falls_back_to_local_and_fails_if_due(
        fleet: Fleet, ca: MiniCA, pg_cluster: ClusterInfo) -> None:
    ok(fleet.renew("b"))  # b has the lineage locally
    closed = fleet.files["b"].url.replace(str(pg_cluster.port), str(free_port()))
    away = ["--store", closed]
    quiet = fleet.renew("b", *away)  # nothing due: the fall-back is said, the exit is 0
    assert quiet.returncode == 0, quiet.stderr
    said = quiet.stderr.splitlines()
    assert len(said) == 1, quiet.stderr
    assert said[0].startswith(f"fleet store {closed} is unreachable: ")
    assert said[0].endswith(f"; renewing from the local layout in {fleet.hosts['b'].config} only")
    fleet.make_due(ca)
    open_pg_store(fleet.base, 10.0, role=HOST_ROLES[1],
                  config_dir=fleet.hosts["b"].config).sync(NAME)  # b holds the due version 2
    due = fleet.renew("b", *away)
    assert due.returncode == 1, due.stdout + due.stderr
    assert [ln for ln in due.stderr.splitlines() if ln.startswith("fleet store")] == [said[0]]
    assert "(success)" in due.stdout  # renewed locally all the same
    assert fleet.versions() == [1, 2]  # the store never saw it


def test_a_host_killed_mid_renewal_leaves_the_lineage_to_the_others(
        fleet: Fleet, ca: MiniCA, tmp_path: Path) -> None:
    """Host a holds the fleet lock inside its auth hook when it is SIGKILLed: host b
    renews the lineage at once (the dead holder's lease is free), not after 30 s."""
    fleet.make_due(ca)
    inside = tmp_path / "flags"
    inside.mkdir(mode=0o777)
    inside.chmod(0o777)  # the hook may run as the plugins' unprivileged user
    slow = tmp_path / "slow-hook.py"
    slow.write_text(f"#!{sys.executable}\nimport pathlib, time\n"
                    f"pathlib.Path({str(inside / 'in-hook')!r}).write_text('x')\n"
                    "time.sleep(30)\n")
    slow.chmod(0o755)
    host_a = subprocess.Popen(fleet.renew_argv("a", "--manual-auth-hook", str(slow)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (inside / "in-hook").exists() and time.monotonic() < deadline:
            assert host_a.poll() is None
            time.sleep(0.05)
        assert (inside / "in-hook").exists()
    finally:
        os.killpg(host_a.pid, signal.SIGKILL)
        host_a.wait(timeout=30)
    started = time.monotonic()
    result = fleet.renew("b")
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started < 30
    assert fleet.versions() == [1, 2, 3]
    assert "(success)" in result.stdout


def _clock_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "clock" in line]


def test_a_host_whose_clock_runs_ahead_orders_nothing_the_database_finds_fresh(
        fleet: Fleet) -> None:
    """The database's clock decides what is due (the issue: clock skew causes no double
    renewal). Pebble's certificates live 5 years; a host 1300 days ahead would find the
    fleet's fresh lineage due by its own clock, and order it again on every run."""
    plain = fleet.renew("b")
    assert plain.returncode == 0, plain.stderr
    assert _clock_lines(plain.stderr) == []
    ahead = subprocess.run(["faketime", "+1300 days", *fleet.renew_argv("b", "--no-verify-ssl")],
                           capture_output=True, text=True, timeout=240)
    assert ahead.returncode == 0, ahead.stderr
    assert fleet.versions() == [1]
    assert "(success)" not in ahead.stdout
    said = _clock_lines(ahead.stderr)
    assert len(said) == 1, ahead.stderr
    assert said[0].startswith("This host's clock is 1300 days ahead of the fleet store's "
                              "(the database's): renew decides what is due by the database's "
                              "clock")
    assert "keep the fleet's hosts on NTP" in said[0]


def test_a_host_whose_clock_runs_behind_still_renews_what_is_due(
        fleet: Fleet, ca: MiniCA) -> None:
    """One day left of ten by the database's clock is due; five days earlier, by this
    host's clock, it would not be (a third of the lifetime is the threshold)."""
    fleet.make_due(ca)
    behind = subprocess.run(["faketime", "-5 days", *fleet.renew_argv("b", "--no-verify-ssl")],
                            capture_output=True, text=True, timeout=240)
    assert behind.returncode == 0, behind.stdout + behind.stderr
    assert fleet.versions() == [1, 2, 3]
    assert "(success)" in behind.stdout
    assert len(_clock_lines(behind.stderr)) == 1, behind.stderr

