"""Issue 14, gap 4: the nginx authenticator's temporary challenge changes never outlive the run.

For each way a run can end (success, the CA refusing the challenge, the
plugin process dying, a kernel bug, Ctrl-C), the nginx configuration on
disk is byte-identical afterwards, no temporary or unfinished checkpoint is
left, and a later ``certkernel rollback`` reports no "interrupted run".
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.infra.e2e_site import REPO
from tests.infra.pebble import Pebble

from .conftest import SITE, Site, running_site

FAULT = Path(__file__).resolve().parents[1] / "infra" / "kernel_fault.py"
MARK = "killed-once"


def _tree(site: Site) -> dict[str, bytes]:
    """Every file under the server root (the challenge's .inc files too), by relative path.

    What nginx itself writes there while running (logs, pid, temp folders)
    and the crash test's marker are left out.
    """
    found: dict[str, bytes] = {}
    for path in sorted(site.root.rglob("*")):
        rel = path.relative_to(site.root)
        if path.suffix in (".log", ".pid") or rel.name == MARK or \
                any(part.endswith("_temp") for part in rel.parts):
            continue
        if path.is_symlink():
            found[str(rel)] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            found[str(rel)] = path.read_bytes()
    return found


def _assert_nothing_left(site: Site, before: dict[str, bytes]) -> None:
    """The config is back byte for byte, and no checkpoint claims an interrupted run."""
    assert _tree(site) == before
    assert not (site.work_dir / "temp_checkpoint").exists()
    assert not (site.work_dir / "IN_PROGRESS").exists()
    back = site.cli("rollback", "--checkpoints", "1")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "interrupted run" not in back.stdout + back.stderr
    assert "there is no checkpoint to roll back" in back.stdout
    assert _tree(site) == before


def test_success(site: Site) -> None:
    before = _tree(site)
    done = site.cli("certonly", "--nginx", "-d", "example.test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site.config_dir / "live" / "example.test" / "cert.pem").is_file()
    _assert_nothing_left(site, before)


def test_success_through_a_temporary_server_block(tmp_path: Path, pebble: Pebble) -> None:
    """No block listens on the http-01 port for the name: the plugin adds a temporary one."""
    other = "server {{\n    listen 127.0.0.1:{https_port};\n    server_name example.test;\n}}\n"
    with running_site(tmp_path, pebble, {"example.conf": other}) as site:
        before = _tree(site)
        done = site.cli("certonly", "--nginx", "-d", "example.test")
        assert done.returncode == 0, done.stdout + done.stderr
        _assert_nothing_left(site, before)


def test_ca_refuses_the_challenge(tmp_path: Path, pebble: Pebble) -> None:
    """The name resolves, for the CA, to an address nginx does not listen on."""
    name = f"refused-{os.getpid()}.example.test"
    with running_site(tmp_path, pebble, {"refused.conf": SITE.replace(
            "server_name example.test www.example.test;", f"server_name {name};")}) as site:
        pebble.add_a(name, ["127.0.0.2"])
        try:
            before = _tree(site)
            done = site.cli("certonly", "--nginx", "-d", name)
        finally:
            pebble.clear_a(name)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"Some challenges failed ({name})" in done.stderr, done.stderr
        assert not (site.config_dir / "live" / name).exists()
        _assert_nothing_left(site, before)


def test_plugin_process_dies_after_publishing(site: Site) -> None:
    """nginx's first reload SIGKILLs the plugin: the published challenge is on disk, the
    process gone; cleanup runs in a fresh process, then the kernel checks what is left."""
    mark = site.root / MARK
    ctl = site.base / "nginx-killing-its-caller"
    ctl.write_text(
        "#!/bin/sh\n"
        'case " $* " in\n'
        f'  *" -s reload "*) if [ ! -e {mark} ]; then : > {mark}; kill -9 $PPID; exit 1; fi;;\n'
        "esac\n"
        f'exec {shutil.which("nginx")} "$@"\n'
    )
    ctl.chmod(0o755)
    before = _tree(site)
    done = site.cli("certonly", "--nginx", "-d", "example.test", "--nginx-ctl", str(ctl))
    assert mark.exists(), done.stdout + done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    assert "nginx" in done.stderr
    _assert_nothing_left(site, before)


def test_kernel_bug_after_publishing(site: Site) -> None:
    before = _tree(site)
    done = site.cli("certonly", "--nginx", "-d", "example.test",
                    wrapper=[sys.executable, str(FAULT), "answer"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "injected kernel bug" in done.stderr
    _assert_nothing_left(site, before)


def test_ctrl_c_while_the_challenge_is_published(site: Site) -> None:
    before = _tree(site)
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    # The plugin waits 30 s after its reload: the challenge is published and
    # the run is inside perform when Ctrl-C arrives.
    argv = [sys.executable, "-m", "certkernel",
            *site.argv("certonly", "--nginx", "-d", "example.test", "--nginx-sleep-seconds", "30")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while _tree(site) == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _tree(site) != before, "the challenge was never published"
        time.sleep(1.0)  # nginx reloading with it
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "Exiting due to user request." in err
    _assert_nothing_left(site, before)
