"""Running the kernel with its plugins sandboxed, and checking that the sandbox took.

Shared by tests/sandbox (explicit --plugin-user) and tests/privilege (the
least privilege a manifest declares): the common flags, a run whose plugin
process is watched in /proc, and where a third-party plugin is installed.
"""

from __future__ import annotations

import pwd
from pathlib import Path

from tests.infra.pebble import Pebble
from tests.infra.sandbox_env import Kernel, Watcher, world_dir


def common(pebble: Pebble) -> list[str]:
    return ["--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle,
            "--agree-tos", "-m", "admin@example.org", "-n"]


def assert_sandboxed(status: dict[str, str], user: str) -> None:
    """The /proc/<pid>/status fields that show the sandbox took effect."""
    pw = pwd.getpwnam(user)
    assert status, "the plugin process was never seen"
    assert status["Uid"].split() == [str(pw.pw_uid)] * 4
    assert status["Gid"].split() == [str(pw.pw_gid)] * 4
    assert status["Groups"] == ""
    assert status["NoNewPrivs"] == "1"
    assert int(status["CapEff"], 16) == 0
    assert int(status["CapPrm"], 16) == 0


def run_watched(kernel: Kernel, marker: str, *args: str) -> tuple[int, str, dict[str, str]]:
    proc = kernel.start(*args)
    watcher = Watcher(proc.pid, marker).start()
    try:
        _out, err = proc.communicate(timeout=120)
    finally:
        watcher.stop()
    return proc.returncode, err, watcher.found


def install_plugin(root: Path, folder: str, name: str, manifest: str) -> dict[str, str]:
    """The environment that makes the kernel find ``manifest`` as a third-party plugin."""
    xdg = world_dir(root, folder)
    place = xdg / "certkernel" / "plugins" / name
    place.mkdir(parents=True, exist_ok=True)
    for path in (xdg / "certkernel", xdg / "certkernel" / "plugins", place):
        path.chmod(0o755)
    (place / "plugin.toml").write_text(manifest)
    return {"XDG_DATA_HOME": str(xdg)}
