"""Wall time of one `certonly --standalone` against Pebble: certkernel vs Certbot.

Both clients run against the same Pebble (PEBBLE_VA_NOSLEEP=1), each with an
account registered beforehand (registration is not what is measured), each
issuing for a fresh name per run. Prints medians and the ratio; the target is
certkernel in <= 1/4 of Certbot's time. Certbot comes from PyPI into
bench/.work/certbot-venv (made on first use).

    python bench/issue.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import certbot_bin, certkernel_argv, clean_env, dirs, start_pebble, timed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    certbot = certbot_bin()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # standalone runs as _certkernel, which must get through to its state
        # folder under --work-dir, as it does under /var/lib on a real host.
        tmp.chmod(0o711)
        pebble = start_pebble(tmp)
        try:
            common = [
                "--standalone", "--server", pebble.directory_url,
                "--http-01-port", str(pebble.http01_port), "--http-01-address", "127.0.0.1",
                "--agree-tos", "-m", "bench@example.org", "-n",
            ]
            ck_env = clean_env()
            cb_env = clean_env()
            cb_env["REQUESTS_CA_BUNDLE"] = str(pebble.ca_bundle)
            ck = certkernel_argv() + ["certonly", "--ca-bundle", str(pebble.ca_bundle)]
            cb = [str(certbot), "certonly"]
            results: dict[str, list[float]] = {"certkernel": [], "certbot": []}
            for tool, argv, env in (("certkernel", ck, ck_env), ("certbot", cb, cb_env)):
                base = tmp / tool
                timed(argv + common + dirs(base) + ["-d", f"warmup.{tool}.example"], env)
                for i in range(args.runs):
                    name = f"run{i}.{tool}.example"
                    results[tool].append(timed(argv + common + dirs(base) + ["-d", name], env))
        finally:
            pebble.stop()
    ck_med = statistics.median(results["certkernel"])
    cb_med = statistics.median(results["certbot"])
    print(f"certonly --standalone against Pebble, median of {args.runs} (account registered before)")
    print(f"  certkernel: {ck_med:.3f} s   (min {min(results['certkernel']):.3f})")
    print(f"  certbot:    {cb_med:.3f} s   (min {min(results['certbot']):.3f})")
    print(f"  ratio certkernel/certbot: {ck_med / cb_med:.2f}  (target <= 0.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
