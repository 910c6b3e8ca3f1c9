"""What the "temporary changes never outlive the run" tests share (issue 14, gap 4).

nginx and apache both add temporary configuration for an http-01 challenge.
Each test ends a run one way (success, CA refusal, plugin death, kernel
bug, Ctrl-C) and then checks the same things: the server root is
byte-identical, no temporary or unfinished checkpoint is left, and a later
``certkernel rollback`` reports no "interrupted run".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.infra.e2e_site import REPO, CliSite

# The crash and Ctrl-C tests' marker: the wrapped control command acted once.
MARK = "acted-once"
FAULT = Path(__file__).resolve().parent / "kernel_fault.py"


def config_tree(root: Path, runtime: Callable[[Path], bool] = lambda rel: False) -> dict[str, bytes]:
    """Every file (bytes) and symlink (target) under ``root``, by relative path.

    ``runtime`` picks out what the server writes there while running (logs,
    pid files); the marker of :func:`wrapped_ctl` is always left out.
    """
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.name == MARK or runtime(rel):
            continue
        if path.is_symlink():
            found[str(rel)] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            found[str(rel)] = path.read_bytes()
    return found


def assert_nothing_left(site: CliSite, tree: Callable[[], dict[str, bytes]],
                        before: dict[str, bytes]) -> None:
    """The config is back byte for byte; no checkpoint claims an interrupted run."""
    assert tree() == before
    assert not (site.work_dir / "temp_checkpoint").exists()
    assert not (site.work_dir / "IN_PROGRESS").exists()
    back = site.cli("rollback", "--checkpoints", "1")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "interrupted run" not in back.stdout + back.stderr
    assert "there is no checkpoint to roll back" in back.stdout
    assert tree() == before


def wrapped_ctl(path: Path, real: str, trigger: str, mark: Path, action: str) -> Path:
    """A server control command that runs ``action`` (shell) once, the first time its
    arguments contain ``trigger`` (e.g. ``-s reload``), and else execs ``real``.

    The plugin runs it as its child: ``kill -9 $PPID`` kills the plugin
    right after it published a challenge; ``sleep 30`` holds the run inside
    ``perform`` so a test can press Ctrl-C there.
    """
    path.write_text(
        "#!/bin/sh\n"
        'case " $* " in\n'
        f'  *" {trigger} "*) if [ ! -e {mark} ]; then : > {mark}; {action}; fi;;\n'
        "esac\n"
        f'exec {real} "$@"\n'
    )
    path.chmod(0o755)
    return path


def interrupt_when_published(site: CliSite, args: list[str], mark: Path,
                             timeout: float = 120.0) -> tuple[int, str, str]:
    """Run ``certkernel ARGS``; once ``mark`` exists (the challenge is published and the
    plugin is held in perform), send SIGINT as a terminal's Ctrl-C does.

    Returns (exit status, stdout, stderr).
    """
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    argv = [sys.executable, "-m", "certkernel", *site.argv(*args)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not mark.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mark.exists(), "the challenge was never published"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err
