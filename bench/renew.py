"""``renew`` at scale, certkernel next to Certbot (PyPI), same machine, same run.

Two scenarios, each tool on its own copy of the same config dir:

* 1,000 lineages, none due: wall time and peak RSS of ``renew`` (median of
  a few runs). This is what cron does twice a day on a big host. The first
  certkernel run on a config dir builds its renewal cache
  (``<config-dir>/.certkernel-cache``) and fetches ARI once; it is reported
  on its own line, and the median is taken over the runs after it (Certbot
  gets the same warm-up run, so its files are in the page cache too).
* 50 due lineages on webroot against a real Pebble (``PEBBLE_VA_NOSLEEP=1``).

Lineages are made fast: one is issued with ``certkernel certonly``, then
copied under new names (archive copied, live links and renewal conf
rewritten). Certbot is installed into ``bench/.work/certbot-venv`` (ignored
by git) when missing. Peak RSS is the largest single process of the run
(``RUSAGE_CHILDREN`` of a fresh measuring process), read the same way for
both tools.

    /opt/ckvenv/bin/python bench/renew.py [--lineages 1000] [--due 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.infra.pebble import Pebble  # noqa: E402

WORK = REPO / "bench" / ".work"
CERTBOT_VENV = WORK / "certbot-venv"
CERTBOT = CERTBOT_VENV / "bin" / "certbot"
SEED = "seed.example.com"
TIMEOUT = 1800.0


def ensure_certbot() -> str:
    if not CERTBOT.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(CERTBOT_VENV)],
                       check=True)
        subprocess.run([str(CERTBOT_VENV / "bin" / "python"), "-m", "ensurepip", "-q"],
                       check=True)
        subprocess.run([str(CERTBOT_VENV / "bin" / "pip"), "install", "-q", "certbot"],
                       check=True, timeout=TIMEOUT)
    out = subprocess.run([str(CERTBOT), "--version"], capture_output=True, text=True,
                         check=True)
    return (out.stdout or out.stderr).strip()


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS KiB of the largest process, exit code) in a fresh child."""
    code = (
        "import json,resource,subprocess,sys,time;"
        "t=time.perf_counter();"
        "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL,"
        "stdin=subprocess.DEVNULL);"
        "w=time.perf_counter()-t;"
        "print(json.dumps([w,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,p.returncode]))"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         env=env, timeout=TIMEOUT, check=True)
    wall, rss, rc = json.loads(out.stdout)
    return float(wall), int(rss), int(rc)


class Bench:
    def __init__(self, base: Path, pebble: Pebble, webroot: Path) -> None:
        self.base = base
        self.pebble = pebble
        self.webroot = webroot

    def dirs(self, name: str) -> list[str]:
        root = self.base / name
        return ["--config-dir", str(root / "etc"), "--work-dir", str(root / "work"),
                "--logs-dir", str(root / "logs")]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["REQUESTS_CA_BUNDLE"] = self.pebble.ca_bundle  # Certbot trusts Pebble this way
        # An installed package has its bytecode compiled (pip does it for Certbot's
        # venv); without this, a source tree would be recompiled on every run.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def seed(self) -> None:
        argv = [sys.executable, "-m", "certkernel", "certonly", "-a", "webroot",
                "-w", str(self.webroot), "-d", SEED, "--server", self.pebble.directory_url,
                "--ca-bundle", self.pebble.ca_bundle, "--agree-tos", "-m", "b@example.org",
                "-n", *self.dirs("seed")]
        subprocess.run(argv, check=True, capture_output=True, timeout=TIMEOUT)

    def clone(self, target: str, count: int, due: bool) -> Path:
        """``count`` copies of the seed lineage in a fresh config dir."""
        src = self.base / "seed" / "etc"
        etc = self.base / target / "etc"
        if etc.exists():
            shutil.rmtree(self.base / target)
        etc.mkdir(parents=True)
        shutil.copytree(src / "accounts", etc / "accounts")
        for top in ("archive", "live", "renewal"):
            (etc / top).mkdir(mode=0o700)
        conf = (src / "renewal" / f"{SEED}.conf").read_text()
        conf = conf.replace(str(src), str(etc))
        if due:
            conf = conf.replace("# renew_before_expiry = 30 days",
                                "renew_before_expiry = 1900 days")
        # Each copy serves its name from the web root: the seed's conf already
        # pairs its name with it when certkernel saved the -w pairing.
        webroot_map = "" if "[[webroot_map]]" in conf else \
            f"[[webroot_map]]\n{SEED} = {self.webroot}\n"
        for n in range(count):
            name = f"l{n:05d}.example.com"
            shutil.copytree(src / "archive" / SEED, etc / "archive" / name)
            live = etc / "live" / name
            live.mkdir()
            for kind in ("cert", "chain", "fullchain", "privkey"):
                (live / f"{kind}.pem").symlink_to(f"../../archive/{name}/{kind}1.pem")
            (etc / "renewal" / f"{name}.conf").write_text(conf.replace(SEED, name) + webroot_map)
        return etc

    def certkernel(self, target: str) -> list[str]:
        return [sys.executable, "-m", "certkernel", "renew", "-n", "--no-random-sleep-on-renew",
                *self.dirs(target)]

    def certbot(self, target: str) -> list[str]:
        return [str(CERTBOT), "renew", "-n", "--no-random-sleep-on-renew", *self.dirs(target)]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b else "n/a"


def scenario_none_due(bench: Bench, lineages: int, repeat: int) -> dict[str, float]:
    bench.clone("ck-idle", lineages, due=False)
    bench.clone("cb-idle", lineages, due=False)
    cold = measure(bench.certkernel("ck-idle"), bench.env())
    measure(bench.certbot("cb-idle"), bench.env())
    # Files written in the last second are not cached (see renewal_cache.RACY_NS);
    # one more run records what the first run wrote (ari.json).
    time.sleep(1.2)
    measure(bench.certkernel("ck-idle"), bench.env())
    ck = [measure(bench.certkernel("ck-idle"), bench.env()) for _ in range(repeat)]
    cb = [measure(bench.certbot("cb-idle"), bench.env()) for _ in range(repeat)]
    assert cold[2] == 0 and all(r[2] == 0 for r in ck), (cold, ck)
    assert all(r[2] == 0 for r in cb), cb
    return {
        "ck_cold": cold[0], "ck_cold_rss": cold[1] / 1024,
        "ck_wall": statistics.median(r[0] for r in ck),
        "cb_wall": statistics.median(r[0] for r in cb),
        "ck_rss": max(r[1] for r in ck) / 1024, "cb_rss": max(r[1] for r in cb) / 1024,
    }


def scenario_due(bench: Bench, due: int) -> dict[str, float]:
    bench.clone("ck-due", due, due=True)
    bench.clone("cb-due", due, due=True)
    ck = measure(bench.certkernel("ck-due"), bench.env())
    cb = measure(bench.certbot("cb-due"), bench.env())
    for label, result, target in (("certkernel", ck, "ck-due"), ("certbot", cb, "cb-due")):
        renewed = sum(1 for p in (bench.base / target / "etc" / "archive").glob("*/cert2.pem"))
        if result[2] != 0 or renewed != due:
            raise SystemExit(f"{label}: exit {result[2]}, {renewed}/{due} renewed; "
                             f"see {bench.base / target / 'logs'}")
    return {"ck_wall": ck[0], "cb_wall": cb[0], "ck_rss": ck[1] / 1024, "cb_rss": cb[1] / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lineages", type=int, default=1000)
    parser.add_argument("--due", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    version = ensure_certbot()
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK, prefix="renew-") as tmp:
        base = Path(tmp)
        webroot = base / "www"
        webroot.mkdir()
        with Pebble(base / "pebble") as pebble:
            handler = functools.partial(_QuietHandler, directory=str(webroot))
            httpd = http.server.ThreadingHTTPServer(("127.0.0.1", pebble.http01_port), handler)
            thread = threading.Thread(target=httpd.serve_forever, daemon=True)
            thread.start()
            try:
                bench = Bench(base, pebble, webroot)
                t0 = time.perf_counter()
                bench.seed()
                idle = scenario_none_due(bench, args.lineages, args.repeat)
                due = scenario_due(bench, args.due)
                setup = time.perf_counter() - t0
            finally:
                httpd.shutdown()
                httpd.server_close()
    print(f"certbot: {version}; certkernel: this tree; {os.cpu_count()} CPUs; "
          f"total bench time {setup:.0f}s")
    print(f"{'scenario':34} {'certkernel':>12} {'certbot':>12} {'speedup':>8} {'RSS ck/cb MiB':>16}")
    for label, r in ((f"renew, {args.lineages} lineages, none due", idle),
                     (f"renew, {args.due} due (webroot, Pebble)", due)):
        print(f"{label:34} {r['ck_wall']:>11.2f}s {r['cb_wall']:>11.2f}s "
              f"{ratio(r['cb_wall'], r['ck_wall']):>8} "
              f"{r['ck_rss']:>7.1f}/{r['cb_rss']:<7.1f}")
    print(f"{'  (first run: builds cache, ARI)':34} {idle['ck_cold']:>11.2f}s {'':>12} "
          f"{ratio(idle['cb_wall'], idle['ck_cold']):>8} {idle['ck_cold_rss']:>7.1f}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("targets: >= 20x with nothing due, >= 5x with 50 due, less memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
