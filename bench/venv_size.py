"""Disk size of a fresh virtualenv: certkernel's core, each extra, and Certbot's.

Builds certkernel's wheel from this tree, then makes one venv per variant in a
temporary folder and installs into it with pip (pip's cache keeps reruns
quick).  Prints the total size of each venv and the size above an empty venv
(pip, setuptools), which is what the install itself costs.

    python bench/venv_size.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000


def du(path: Path) -> int:
    """Bytes in files below ``path`` (symlinks not followed, each inode once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def make_venv(where: Path, requirement: list[str], wheels: Path | None = None) -> int:
    venv.EnvBuilder(with_pip=True, symlinks=True).create(where)
    if requirement:
        # certkernel-sdk is on no index: its wheel sits in ``wheels`` beside certkernel's
        links = [f"--find-links={wheels}"] if wheels is not None else []
        proc = subprocess.run([str(where / "bin" / "python"), "-m", "pip", "install", "-q",
                               "--disable-pip-version-check", *links, *requirement],
                              capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode:
            raise SystemExit(f"pip install {' '.join(requirement)} failed:\n{proc.stderr}")
    # byte-code is written on first run in real life; count what pip left
    return du(where)


def build_wheel(out: Path) -> Path:
    """The certkernel wheel, with the certkernel-sdk wheel it depends on beside it."""
    for project in (ROOT / "packaging" / "certkernel-sdk", ROOT):
        subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                        str(out), str(project)], check=True, timeout=300, capture_output=True)
    return next(out.glob("certkernel-[0-9]*.whl"))


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--keep", type=Path, help="make the venvs here and keep them")
    opts = args.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ck-venv-size-") as tmp_name:
        work = opts.keep or Path(tmp_name)
        work.mkdir(parents=True, exist_ok=True)
        wheel = build_wheel(work / "dist")
        variants: list[tuple[str, list[str]]] = [
            ("empty venv (pip, setuptools)", []),
            ("certkernel-sdk (alone)", [str(next(wheel.parent.glob("certkernel_sdk-*.whl")))]),
            ("certkernel (core)", [str(wheel)]),
            ("certkernel[route53]", [f"certkernel[route53] @ {wheel.as_uri()}"]),
            ("certkernel[lexicon]", [f"certkernel[lexicon] @ {wheel.as_uri()}"]),
            ("certkernel[all]", [f"certkernel[all] @ {wheel.as_uri()}"]),
            ("certbot (PyPI)", ["certbot"]),
        ]
        sizes: dict[str, int] = {}
        for label, req in variants:
            sizes[label] = make_venv(work / f"v{len(sizes)}", req, wheel.parent)
        base = sizes["empty venv (pip, setuptools)"]
        certbot = sizes["certbot (PyPI)"] - base
        print(f"{'venv':32} {'total MB':>9} {'installed MB':>13} {'vs certbot':>11}")
        for label, size in sizes.items():
            added = size - base
            ratio = f"{added / certbot:.2f}x" if certbot and req_label(label) else ""
            print(f"{label:32} {size / MB:9.1f} {added / MB:13.1f} {ratio:>11}")
    return 0


def req_label(label: str) -> bool:
    return not label.startswith("empty")


if __name__ == "__main__":
    raise SystemExit(main())
