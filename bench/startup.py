"""Start-up time of the commands users run most often without the network.

Prints wall times (min / p50 / p95 over N runs) of the real console script for
``--help``, ``--help all`` and ``plugins``, next to a bare ``python -c pass``,
and whether the ACME stack was imported.  Target: <= 150 ms, no ``acme``.

    /opt/ckvenv/bin/python bench/startup.py [runs]
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("acme", "josepy", "cryptography", "requests", "configobj")
SCRIPT = str(Path(sys.executable).parent / "certkernel")


def wall(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True, timeout=60)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def heavy_imports(args: list[str], env: dict[str, str]) -> list[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "certkernel", *args],
                          env=env, capture_output=True, text=True, check=True, timeout=60)
    found = {m.group(1).split(".")[0]
             for m in re.finditer(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", proc.stderr)}
    return sorted(found & set(HEAVY))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp,
               "XDG_CONFIG_HOME": f"{tmp}/cfg", "XDG_DATA_HOME": f"{tmp}/data"}
        dirs = ["--config-dir", f"{tmp}/etc", "--work-dir", f"{tmp}/work", "--logs-dir", f"{tmp}/logs"]
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "certkernel --help": [SCRIPT, "--help"],
            "certkernel --help all": [SCRIPT, "--help", "all"],
            "certkernel plugins": [SCRIPT, "plugins", *dirs],
        }
        print(f"{'command':<24} {'min':>7} {'p50':>7} {'p95':>7}  (ms, {runs} runs)  heavy imports")
        for label, cmd in cases.items():
            times = wall(cmd, env, runs)
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            heavy = "-" if cmd[0] != SCRIPT else (", ".join(heavy_imports(cmd[1:], env)) or "none")
            print(f"{label:<24} {times[0]:7.1f} {statistics.median(times):7.1f} {p95:7.1f}  {'':18} {heavy}")


if __name__ == "__main__":
    main()
