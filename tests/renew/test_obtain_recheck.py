"""``certonly`` re-checks under the lineage lock: two runs for the same names make one lineage.

Both runs decide "new lineage" before either holds the lock (a third process
holds it meanwhile, so the overlap is certain, not a matter of timing). The
one that gets the lock second must find the lineage the first made and keep
it: without the re-check it would order again and save ``NAME-0001``. Both
also start without an account: the account lock and its re-check leave one.
"""

from __future__ import annotations

import subprocess
import threading
import time

from tests.infra.store_backends import ROOT, child_env, holder_argv
from tests.renew.renew_env import Host

WAIT = 120.0


class _Watched:
    """A running certkernel whose stderr is read as it comes, to see it start waiting."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.waiting = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "Waiting up to" in line:
                self.waiting.set()

    def finish(self) -> tuple[int, str, str]:
        out = self.proc.stdout.read() if self.proc.stdout else ""
        code = self.proc.wait(timeout=WAIT)
        self._reader.join(timeout=WAIT)
        return code, out, "".join(self.lines)


def _certonly(host: Host, name: str) -> _Watched:
    pebble = host.served.pebble
    proc = host.popen("certonly", "-a", "webroot", "-w", str(host.served.webroot), "-d", name,
                      "--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle,
                      "--agree-tos", "-m", "renew@example.org",
                      env={"CERTKERNEL_LOCK_TIMEOUT": "90"})
    return _Watched(proc)


def test_two_certonly_runs_for_new_names_make_one_lineage(host: Host) -> None:
    name = "recheck.example.com"
    holder = subprocess.Popen(holder_argv("local", host.base, name), stdout=subprocess.PIPE,
                              text=True, cwd=ROOT, env=child_env())
    runs: list[_Watched] = []
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        runs = [_certonly(host, name), _certonly(host, name)]
        deadline = time.monotonic() + WAIT
        for run in runs:  # both planned a new lineage and now wait for its lock
            assert run.waiting.wait(max(0.0, deadline - time.monotonic())), "".join(run.lines)
    finally:
        holder.kill()
        holder.wait(timeout=WAIT)
    results = [run.finish() for run in runs]
    for code, _out, err in results:
        assert code == 0, err
    assert sorted(p.name for p in (host.config_dir / "renewal").iterdir()) == [f"{name}.conf"]
    assert host.archive_versions(name) == [1]
    accounts = [d for d in (host.config_dir / "accounts").rglob("*") if (d / "regr.json").exists()]
    assert len(accounts) == 1, accounts
    kept = [out for _code, out, _err in results if "not yet due for renewal" in out]
    assert len(kept) == 1, [out for _code, out, _err in results]
