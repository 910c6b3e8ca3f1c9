"""Cron runs that start together rotate ``letsencrypt.log`` together, and none fails.

Each run shifts ``letsencrypt.log`` -> ``.1`` -> ``.2`` before opening a fresh
log; two runs doing it at the same instant used to find a file the other had
just moved and stop with "cannot write the log" before doing any work.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROUNDS = 40
WORKERS = 6


def test_parallel_rotations_all_open_their_log(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    code = (
        "import sys\n"
        "from certkernel.log import open_log_file\n"
        f"for _ in range({ROUNDS}):\n"
        f"    _path, handler = open_log_file({str(logs)!r}, 3)\n"
        "    handler.close()\n"
        "print('ok')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(WORKERS)]
    results = [proc.communicate(timeout=120) for proc in procs]
    failures = [err for (out, err), proc in zip(results, procs, strict=True)
                if proc.returncode != 0 or out.strip() != "ok"]
    assert failures == []
    kept = sorted(p.name for p in logs.iterdir())
    assert kept == ["letsencrypt.log", "letsencrypt.log.1", "letsencrypt.log.2",
                    "letsencrypt.log.3"]
