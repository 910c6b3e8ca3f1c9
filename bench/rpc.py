"""Protocol speed through the real host and the real Python SDK.

Prints: small calls per second (get_chall_pref round trips; the median of
five rounds, with each round shown), the time of a 1 MiB payload each way,
spawn + handshake latency of a Python plugin (p50/p95), and the load average
(round trips depend on how busy the CPUs are). Targets on a 2-core machine:
>= 20,000 calls/s, spawn+handshake <= 100 ms p50.

    python bench/rpc.py [--calls N] [--spawns N]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.manifest import load_manifest
from certkernel.plugin_host.proxies import RemoteAuthenticator
from certkernel.plugin_host.services import KernelServices
from certkernel.protocol.messages import Challenge

HERE = Path(__file__).resolve().parent


def manifest(folder: Path):  # type: ignore[no-untyped-def]
    (folder / "plugin.toml").write_text(
        'name = "echo"\ndescription = "bench"\nversion = "1"\nroles = ["authenticator"]\n'
        'challenges = ["http-01"]\n'
        f'command = ["{{python}}", "{HERE / "echo_plugin.py"}"]\nprotocol_versions = [1]\n'
    )
    return load_manifest(folder / "plugin.toml")


def start(m):  # type: ignore[no-untyped-def]
    return start_plugin(m, KernelServices("echo").handle, logger=logging.getLogger("bench"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--spawns", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        m = manifest(Path(tmp))
        proc = start(m)
        auth = RemoteAuthenticator(proc)
        for _ in range(1000):
            auth.get_chall_pref("example.com")
        rates = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(args.calls // 5):
                auth.get_chall_pref("example.com")
            rates.append(args.calls // 5 / (time.perf_counter() - t0))
        rate = statistics.median(rates)

        big = "a" * (1 << 20)
        chall = Challenge("example.com", "http-01", "t", big, big)
        up, down = [], []
        for _ in range(20):
            t = time.perf_counter()
            auth.perform([chall])
            up.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert len(auth.more_info()) == 1 << 20
            down.append(time.perf_counter() - t)
        proc.close()

        spawns = []
        for _ in range(args.spawns):
            t = time.perf_counter()
            p = start(m)
            spawns.append(time.perf_counter() - t)
            p.close()
    spawns.sort()
    p95 = spawns[max(0, int(len(spawns) * 0.95) - 1)]
    print(f"small calls:          {rate:,.0f} round trips/s   (target >= 20,000; rounds: "
          f"{', '.join(f'{r:,.0f}' for r in rates)})")
    print(f"1 MiB kernel->plugin: {statistics.median(up) * 1000:.1f} ms (median of 20)")
    print(f"1 MiB plugin->kernel: {statistics.median(down) * 1000:.1f} ms (median of 20)")
    print(
        f"spawn + handshake:    p50 {statistics.median(spawns) * 1000:.1f} ms, "
        f"p95 {p95 * 1000:.1f} ms  (target p50 <= 100 ms; {args.spawns} spawns)"
    )
    print(f"load average:         {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
