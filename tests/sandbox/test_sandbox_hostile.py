"""A hostile plugin running as the plugin user, the kernel killed under it,
limits exceeded, and paths the plugin user cannot use.

The hostile plugin (hostile_plugin.py) is installed the way a third-party
plugin is: a manifest in ``$XDG_DATA_HOME/certkernel/plugins/hostile/``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.infra.pebble import Pebble
from tests.infra.sandbox_env import REPO, Kernel, Watcher, alive, build_shim_venv, world_dir
from tests.infra.sandbox_run import common

CANARY = "CK_CANARY_SECRET"

MANIFEST = f'''
name = "hostile"
description = "Tries what a sandboxed plugin must not manage"
version = "0.1.0"
roles = ["authenticator"]
challenges = ["http-01"]
command = ["{{python}}", "{REPO / "tests" / "sandbox" / "hostile_plugin.py"}"]

[[options]]
name = "mode"
type = "str"
default = "probe"

[[options]]
name = "targets"
type = "path"
default = ""

[sandbox]
user = "certkernel-test"
max_memory_mb = 256
max_files = 64
max_cpu_seconds = 2
'''


def install_hostile(root: Path, name: str) -> dict[str, str]:
    """The environment that makes the kernel find the hostile plugin under ``root``."""
    xdg = world_dir(root, name)
    folder = xdg / "certkernel" / "plugins" / "hostile"
    folder.mkdir(parents=True, exist_ok=True)
    for path in (xdg / "certkernel", xdg / "certkernel" / "plugins", folder):
        path.chmod(0o755)
    (folder / "plugin.toml").write_text(MANIFEST)
    return {"XDG_DATA_HOME": str(xdg)}


@pytest.fixture(scope="module")
def hostile_env(kernel: Kernel) -> dict[str, str]:
    return install_hostile(kernel.root, "xdg")


def state_dir(dirs: list[str]) -> Path:
    """The sandboxed run's state folder (``<name>.uid-N``: never shared with root runs)."""
    found = sorted((Path(dirs[3]) / "plugins").glob("hostile.uid-*"))
    return found[0] if found else Path(dirs[3]) / "plugins" / "hostile"


def test_hostile_plugin_reaches_no_secret(kernel: Kernel, sandbox_user: str, pebble: Pebble,
                                          hostile_env: dict[str, str]) -> None:
    dirs = kernel.dirs("hostile-probe")
    first = kernel.run("certonly", "--standalone", "--http-01-port", str(pebble.http01_port),
                       "--http-01-address", "127.0.0.1", "-d", "secret.example.org",
                       *dirs, *common(pebble))
    assert first.returncode == 0, first.stderr
    config = Path(dirs[1])
    account_key = next(config.glob("accounts/*/*/*/private_key.json"))
    targets = world_dir(kernel.root, "targets") / "hostile.json"
    targets.write_text(json.dumps({
        "account_key": str(account_key),
        "cert_key": str(config / "archive" / "secret.example.org" / "privkey1.pem"),
        "cert_key_live": str(config / "live" / "secret.example.org" / "privkey.pem"),
    }))
    targets.chmod(0o644)
    result = kernel.run("certonly", "-a", "hostile", "--hostile-targets", str(targets),
                        "-d", "probe.example.org", "--plugin-user", sandbox_user,
                        *dirs, *common(pebble), **hostile_env, **{CANARY: "s3cr3t-canary"})
    assert result.returncode == 1
    assert "hostile: probe finished" in result.stderr
    report = json.loads((state_dir(dirs) / "report.json").read_text())
    assert report["account_key"] == "denied: EACCES"
    assert report["cert_key"] == "denied: EACCES"
    assert report["cert_key_live"] == "denied: EACCES"
    assert report["kernel_environ"] == "denied: EACCES"
    assert report["kernel_signal"] == "denied: EPERM"
    assert report["bind_80_v4"] == "denied: EACCES"
    assert report["bind_80_v6"] in ("denied: EACCES", "denied: EADDRNOTAVAIL")
    assert report["setuid_0"] == "denied: EPERM"
    assert CANARY not in report["own_environ"]
    assert "NoNewPrivs:\t1" in report["status"]
    # cleanup still ran after the failed perform
    assert (state_dir(dirs) / "cleanup.log").read_text().split()[1] == "probe.example.org"


def test_sigkill_of_the_kernel_leaves_no_plugin_alive(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, hostile_env: dict[str, str]) -> None:
    dirs = kernel.dirs("hostile-sigkill")
    proc = kernel.start("certonly", "-a", "hostile", "--hostile-mode", "sleep",
                        "-d", "sleep.example.org", *dirs, *common(pebble), **hostile_env)
    watcher = Watcher(proc.pid, "hostile_plugin.py").start()
    try:
        assert watcher.wait_found(60), proc.stderr.read() if proc.poll() is not None else ""
        pid_file = state_dir(dirs) / "perform.pid"
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pid_file.exists(), "the plugin never reached perform"
        assert watcher.found["Uid"].split()[0] == str(os.stat(state_dir(dirs)).st_uid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        watcher.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + 5
    while alive(watcher.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(watcher.pid)


@pytest.mark.parametrize(("mode", "message"), [
    ("memory", "ran out of its memory limit (256 MiB, max_memory_mb) during perform"),
    ("files", "ran out of its open-file limit (64 files, max_files) during perform"),
    ("cpu", "ran out of its CPU time limit (2 s, max_cpu_seconds) during perform"),
])
def test_exceeding_a_limit_stops_the_plugin_and_cleanup_runs_fresh(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, hostile_env: dict[str, str],
        mode: str, message: str) -> None:
    dirs = kernel.dirs(f"hostile-{mode}")
    result = kernel.run("certonly", "-a", "hostile", "--hostile-mode", mode,
                        "-d", f"{mode}.example.org", *dirs, *common(pebble), **hostile_env)
    assert result.returncode == 1
    assert message in result.stderr
    perform_pid = int((state_dir(dirs) / "perform.pid").read_text())
    cleanup_pid, names = (state_dir(dirs) / "cleanup.log").read_text().split()
    assert names == f"{mode}.example.org"
    assert int(cleanup_pid) != perform_pid  # a fresh process did the cleanup
    assert not alive(perform_pid)


def test_an_error_that_only_mentions_memory_is_not_a_limit(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, hostile_env: dict[str, str]) -> None:
    """Which limit ended a plugin comes from how it died, never from its words."""
    dirs = kernel.dirs("hostile-liar")
    result = kernel.run("certonly", "-a", "hostile", "--hostile-mode", "liar",
                        "-d", "liar.example.org", *dirs, *common(pebble), **hostile_env)
    assert result.returncode == 1
    assert "MemoryError: I only say so, I am alive and well" in result.stderr
    assert "ran out of" not in result.stderr
    perform_pid = int((state_dir(dirs) / "perform.pid").read_text())
    cleanup_pid, names = (state_dir(dirs) / "cleanup.log").read_text().split()
    assert names == "liar.example.org"
    assert int(cleanup_pid) == perform_pid  # still alive: cleanup ran in the same process


def test_interpreter_under_a_private_folder_is_named_with_the_fix(
        kernel: Kernel, sandbox_user: str, pebble: Pebble) -> None:
    private = world_dir(kernel.root, "private-home")
    python = build_shim_venv(world_dir(private, "inner"))
    private.chmod(0o700)
    private_kernel = Kernel(python, kernel.root)
    result = private_kernel.run("certonly", "--standalone", "--plugin-user", sandbox_user,
                                "--http-01-port", str(pebble.http01_port),
                                "--http-01-address", "127.0.0.1", "-d", "private.example.org",
                                *kernel.dirs("private"), *common(pebble))
    assert result.returncode == 1
    assert f"plugin standalone cannot run as {sandbox_user}" in result.stderr
    assert f"{private} (mode 0700, owner root) does not let {sandbox_user} through" \
        in result.stderr
    assert f"run `chmod o+x {private}`" in result.stderr


def test_plugin_code_writable_by_everyone_is_refused(
        kernel: Kernel, sandbox_user: str, pebble: Pebble) -> None:
    env = install_hostile(kernel.root, "xdg-writable")
    folder = Path(env["XDG_DATA_HOME"]) / "certkernel" / "plugins" / "hostile"
    folder.chmod(0o777)
    result = kernel.run("certonly", "-a", "hostile", "-d", "writable.example.org",
                        *kernel.dirs("writable"), *common(pebble), **env)
    assert result.returncode == 1
    assert f"{folder} (mode 0777, owner root) is writable by everyone" in result.stderr
    assert f"chmod go-w {folder}" in result.stderr


def test_plugins_command_shows_who_each_plugin_runs_as(
        kernel: Kernel, sandbox_user: str, hostile_env: dict[str, str]) -> None:
    result = kernel.run("plugins", "--plugin-user", "webroot=nobody", *kernel.dirs("list"),
                        **hostile_env)
    assert result.returncode == 0, result.stderr
    blocks = {b.split("\n", 1)[0]: b for b in result.stdout.split("\n\n")}
    runs_as = {name.lstrip("- \n*"): line for name, block in blocks.items()
               for line in block.splitlines() if line.startswith("Runs as:")}
    assert runs_as["hostile"] == (f"Runs as: {sandbox_user}:{sandbox_user} "
                                  "(from the manifest's [sandbox] user)")
    assert runs_as["webroot"] == "Runs as: nobody:nogroup (from --plugin-user)"
    assert runs_as["standalone"] == ("Runs as: _certkernel:_certkernel (needs no root, so it "
                                     "runs as certkernel's unprivileged account)")


def test_per_plugin_user_beats_the_global_one_which_beats_the_manifest(
        kernel: Kernel, sandbox_user: str, hostile_env: dict[str, str]) -> None:
    result = kernel.run("plugins", "--plugin-user", f"nobody,webroot={sandbox_user}",
                        *kernel.dirs("list-precedence"), **hostile_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    runs_as = {lines[i].lstrip("* "): next(x for x in lines[i:] if x.startswith("Runs as:"))
               for i, line in enumerate(lines) if line.startswith("* ")}
    assert runs_as["webroot"] == f"Runs as: {sandbox_user}:{sandbox_user} (from --plugin-user)"
    assert runs_as["hostile"] == "Runs as: nobody:nogroup (from --plugin-user)"
    assert runs_as["standalone"] == "Runs as: nobody:nogroup (from --plugin-user)"
