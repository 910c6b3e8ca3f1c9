"""A fleet on one machine: three hosts, one PostgreSQL store, haproxy in front, Pebble.

What fleet mode promises an operator, measured end to end with the real parts:

- three hosts (their own config dirs, processes, database roles and
  ``certkernel responder``), behind a real haproxy (``balance roundrobin``)
  listening on Pebble's http-01 port, so most validations reach a host other
  than the one that ordered;
- a private PostgreSQL cluster (``tests/infra/postgres.py``);
- ``--lineages`` lineages (300 by default) issued through ``-a fleet-http`` from
  host a;
- window 1: all three hosts run ``renew`` at the same moment under
  ``faketime`` (every lineage is due). Fleet mode decides what is due by the
  database's clock, so during each window the PostgreSQL server's clock
  runs the same days ahead (libfaketime, whose offset the bench moves
  forward for a window and back after it);
- window 2: the same, with host b SIGKILLed mid-renewal;
- window 3: host a alone, for the time per lineage of a single host.

It prints, per window: orders per lineage (a new version is one order; the
promise is exactly 1), lineages whose ``live/`` serial is the store's on every
host, http-01 validations answered by a host other than the orderer, and the
wall time per lineage.

    /opt/certkernel-venv/bin/python bench/fleet.py [--lineages 300] [--workers 6]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import start_pebble  # noqa: E402
from tests.infra.fleet_hosts import Host, Store, answered_elsewhere, converged  # noqa: E402
from tests.infra.haproxy import Haproxy  # noqa: E402
from tests.infra.pebble import Pebble  # noqa: E402
from tests.infra.postgres import HOST_ROLES, PgCluster, set_running  # noqa: E402

FAKE_DAYS = 1300  # Pebble's 5-year certificates have less than a third left
FAKETIME = f"+{FAKE_DAYS} days"
RUN_TIMEOUT = 1800
LEASE_SECONDS = 30


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env,
                          stdin=subprocess.DEVNULL, check=False)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _renew_argv(host: Host, pebble: Pebble) -> list[str]:
    # TLS to Pebble: its listener certificate lives ~30 days, so under faketime
    # it has "expired"; the bench's CA is local, hence --no-verify-ssl here only.
    return ["faketime", FAKETIME, *host.argv(pebble, "renew", "--no-random-sleep-on-renew",
                                             "--no-verify-ssl")]


def issue_all(hosts: list[Host], pebble: Pebble, names: list[str], workers: int) -> float:
    first = hosts[0]

    def one(name: str) -> None:
        done = _run(first.argv(pebble, "certonly", "-a", "fleet-http", "-d", name,
                               "--agree-tos", "-m", "ops@example.org"), env=_env())
        if done.returncode != 0:
            raise SystemExit(f"certonly {name} failed: {done.stderr.strip()[-600:]}")

    started = time.perf_counter()
    one(names[0])  # registers the fleet's account once
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, names[1:]))
    return time.perf_counter() - started


def set_db_clock(clock_file: Path, days: int) -> None:
    """Move the database server's clock to ``days`` ahead of the real time (atomically:
    the server reads the file at every clock call)."""
    temp = clock_file.with_name(clock_file.name + ".new")
    temp.write_text(f"{days:+d}d\n")
    temp.chmod(0o644)
    os.replace(temp, clock_file)


def window(label: str, hosts: list[Host], pebble: Pebble, store: Store, proxy: Haproxy,
           names: list[str], clock_file: Path,
           kill: tuple[Host, float] | None = None) -> dict[str, Any]:
    """All ``hosts`` run renew at once (one is SIGKILLed after ``kill[1]`` s); what it did."""
    set_db_clock(clock_file, FAKE_DAYS)  # the database's clock decides what is due
    since, skip = store.now(), len(proxy.requests())
    started = time.perf_counter()
    # Each host's output goes to a file of its own, never to a pipe: a pipe this
    # process did not drain while it waited for another host would block that
    # host's next write once 64 KiB were in it, and stall the window (its leases
    # held) until the host read first had finished.
    slug = label.split(":")[0].replace(" ", "-")
    outputs = {h.label: (h.base / f"{slug}.out", h.base / f"{slug}.err") for h in hosts}
    procs = {}
    for h in hosts:
        out_path, err_path = outputs[h.label]
        with open(out_path, "w") as out_file, open(err_path, "w") as err_file:
            procs[h.label] = subprocess.Popen(_renew_argv(h, pebble), stdout=out_file,
                                              stderr=err_file,
                                              stdin=subprocess.DEVNULL, env=_env(),
                                              start_new_session=True)
    killed_at = None
    if kill is not None:
        victim, after = kill
        time.sleep(after)
        if procs[victim.label].poll() is None:
            os.killpg(procs[victim.label].pid, signal.SIGKILL)  # the renew and its plugins
            killed_at = store.now()
        else:
            print(f"  {label}: host {victim.label} had finished before {after} s; not killed")
    status = {}
    for name, proc in procs.items():
        proc.wait(timeout=RUN_TIMEOUT)
        status[name] = proc.returncode
        if proc.returncode not in (0, -signal.SIGKILL):
            err = outputs[name][1].read_text(errors="replace")
            print(f"  {label}: host {name} exited {proc.returncode}: {err.strip()[-400:]}")
    wall = time.perf_counter() - started
    set_db_clock(clock_file, 0)
    if kill is not None:
        # The killed host catches up on its next renew (real time: nothing is due, it
        # only converges), as its cron job would.
        _run(kill[0].argv(pebble, "renew", "--no-random-sleep-on-renew"), env=_env())
    orders = store.orders_since(since)
    other, total = answered_elsewhere(hosts, proxy, skip)
    result = {
        "window": label, "hosts": len(hosts), "wall_s": wall, "per_lineage_ms": wall / len(names) * 1000,
        "orders": orders, "renewed": sum(1 for n in names if orders[n] >= 1),
        "exactly_once": sum(1 for n in names if orders[n] == 1),
        "more_than_once": sum(1 for n in names if orders[n] > 1),
        "converged": converged(hosts, store, names),
        "validations": total, "answered_elsewhere": other, "status": status,
    }
    result["twice"] = {n: store.versions_of(n, since) for n in names if orders[n] > 1}
    result["killed_at"] = killed_at
    if killed_at is not None:
        last = store.last_version_at(since)
        result["finished_after_kill_s"] = (last - killed_at).total_seconds() if last else None
    return result


def report(r: dict[str, Any], lineages: int) -> None:
    print(f"\n== {r['window']} ({r['hosts']} host(s) renewing at once)")
    print(f"  lineages renewed:            {r['renewed']} / {lineages}")
    print(f"  orders per lineage:          exactly 1 for {r['exactly_once']}, more than 1 for "
          f"{r['more_than_once']}, none for {lineages - r['renewed']}")
    print(f"  converged on every host:     {r['converged']} / {lineages} (same serial in live/)")
    print(f"  http-01 validation requests: {r['validations']}, answered by a host other than "
          f"the orderer: {r['answered_elsewhere']}")
    print(f"  wall time:                   {r['wall_s']:.1f} s, {r['per_lineage_ms']:.0f} ms "
          "per lineage")
    if "finished_after_kill_s" in r:
        after = r["finished_after_kill_s"]
        print(f"  after the SIGKILL:           last lineage finished "
              f"{after:.1f} s later (lease {LEASE_SECONDS} s)" if after is not None else
              "  after the SIGKILL:           nothing left to finish")
    print(f"  exit status per host:        {r['status']}")
    for name, versions in r["twice"].items():
        made = ", ".join(f"v{v} by {by} at {at:%H:%M:%S.%f}" for v, by, at in versions)
        print(f"  more than one order: {name}: {made}"
              + (f" (host b killed at {r['killed_at']:%H:%M:%S.%f})" if r["killed_at"] else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lineages", type=int, default=300)
    parser.add_argument("--workers", type=int, default=6, help="parallel certonly runs")
    parser.add_argument("--keep", action="store_true",
                        help="keep the hosts' dirs, logs and the cluster's log (printed path)")
    parser.add_argument("--kill-after", type=float, default=4.0,
                        help="seconds into window 2 when host b is SIGKILLed")
    args = parser.parse_args()
    for tool in ("faketime", "haproxy"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is not installed: run scripts/setup.sh")
    tmp = Path(tempfile.mkdtemp(prefix="ck-fleet-bench-"))
    tmp.chmod(0o711)
    cluster = PgCluster(tmp / "pg")
    hosts: list[Host] = []
    pebble: Pebble | None = None
    proxy: Haproxy | None = None
    try:
        clock_file = tmp / "db-clock"
        set_db_clock(clock_file, 0)  # real time, but for the renewal windows
        info = cluster.start(clock_file)
        set_running(info)
        database = info.store_database("bench-fleet")
        key_file = tmp / "fleet.key"
        made = _run([sys.executable, "-m", "certkernel", "store", "keygen", "--store-key-file",
                     str(key_file)])
        if made.returncode != 0:
            raise SystemExit(f"store keygen failed: {made.stderr.strip()}")
        for label, role in zip("abc", HOST_ROLES, strict=True):
            store_args = ["--store", info.url(role, database), "--store-password-file",
                          str(info.password_file(role)), "--store-key-file", str(key_file)]
            hosts.append(Host(label, role, tmp / f"host-{label}", store_args))
        pebble = start_pebble(tmp)
        for h in hosts:
            h.start_responder()
        proxy = Haproxy(tmp / "haproxy", pebble.http01_port,
                        {h.label: h.responder_port for h in hosts}).start()
        store = Store(info, database)
        names = [f"l{i:03d}.fleet.example" for i in range(args.lineages)]

        issued = issue_all(hosts, pebble, names, args.workers)
        other, total = answered_elsewhere(hosts, proxy, 0)
        print(f"issued {len(names)} lineages from host a through -a fleet-http in {issued:.1f} s "
              f"({args.workers} at a time); http-01 validation requests {total}, answered by host b "
              f"or c: {other}")

        report(window("window 1: all hosts renew", hosts, pebble, store, proxy, names,
                      clock_file), len(names))
        report(window("window 2: host b SIGKILLed mid-renewal", hosts, pebble, store, proxy,
                      names, clock_file, kill=(hosts[1], args.kill_after)), len(names))
        single = window("window 3: host a alone", hosts[:1], pebble, store, proxy, names,
                        clock_file)
        report(single, len(names))
        return 0
    finally:
        if proxy is not None:
            proxy.stop()
        for h in hosts:
            h.stop_responder()
        if pebble is not None:
            pebble.stop()
        set_running(None)
        cluster.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
