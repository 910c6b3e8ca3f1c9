"""Shared bench helpers: a Pebble, a Certbot virtualenv, timing of commands."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
sys.path.insert(0, str(ROOT))

from tests.infra.pebble import Pebble, PebbleOptions  # noqa: E402


def certbot_bin() -> Path:
    """Certbot from PyPI in its own virtualenv under bench/.work (made once)."""
    env_dir = WORK / "certbot-venv"
    exe = env_dir / "bin" / "certbot"
    if not exe.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        venv.create(env_dir, with_pip=True)
        subprocess.run(
            [str(env_dir / "bin" / "pip"), "install", "-q", "certbot"], check=True, timeout=600
        )
    return exe


def start_pebble(tmp: Path, **options: object) -> Pebble:
    pebble = Pebble(tmp / "pebble", PebbleOptions(**options))  # type: ignore[arg-type]
    pebble.start()
    return pebble


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(argv)}\n"
                         f"{result.stdout}\n{result.stderr}")
    return elapsed


def dirs(base: Path) -> list[str]:
    return ["--config-dir", str(base / "etc"), "--work-dir", str(base / "work"),
            "--logs-dir", str(base / "logs")]


def certkernel_argv() -> list[str]:
    return [sys.executable, "-m", "certkernel"]


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REQUESTS_CA_BUNDLE", None)
    return env
