"""Ctrl-C while the kernel waits on a plugin: exit 130, no plugin left behind."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import psutil

from tests.cli.conftest import CERTKERNEL, Env


def _is_sleepy(process: psutil.Process) -> bool:
    try:
        return "time.sleep(60)" in " ".join(process.cmdline())
    except psutil.Error:  # other plugins come and go while we look
        return False


def test_sigint_exits_130_and_reaps_the_plugin(cli_env: Env) -> None:
    folder = cli_env.plugins / "sleepy"
    folder.mkdir()
    (folder / "plugin.toml").write_text(
        'name = "sleepy"\nroles = ["authenticator"]\n'
        'command = ["{python}", "-c", "import time; time.sleep(60)"]\n'
        "[timeouts]\ninitialize = 60\n"
    )
    proc = subprocess.Popen(
        [str(CERTKERNEL), "plugins", "--init", "--authenticators", *cli_env.dirs],
        env=cli_env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(cli_env.root),
    )
    try:
        kernel = psutil.Process(proc.pid)
        deadline = time.monotonic() + 20
        children: list[psutil.Process] = []
        while time.monotonic() < deadline:
            children = [c for c in kernel.children(recursive=True) if _is_sleepy(c)]
            if children:
                break
            time.sleep(0.05)
        assert children, "the plugin was never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "Exiting due to user request."
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive
