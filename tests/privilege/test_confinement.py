"""A root plugin confined by Landlock tries to escape its declared roots.

The hostile installer (hostile_installer.py) declares ``privilege = "root"``
with a reason and ``[confine] write_options = ["root"]``, so it runs as root
— a real plugin process — and on ``prepare`` tries to overwrite a file
outside its root, create one there, create a file in the real
``/etc/cron.d``, overwrite and delete the account key, and bind a port.
Each must fail with EACCES and leave the victim as it was; writing under its
root must still work. The same plugin run with ``--plugin-user root`` (the
opt-out, unconfined) does overwrite the victim, which shows the test can fail.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.infra.pebble import Pebble
from tests.infra.sandbox_env import REPO, Kernel, world_dir
from tests.infra.sandbox_run import common, install_plugin

MANIFEST = f'''
name = "hostile-installer"
description = "A root installer that tries to write outside its roots"
version = "0.1.0"
roles = ["installer"]
command = ["{{python}}", "{REPO / "tests" / "privilege" / "hostile_installer.py"}"]

[[options]]
name = "root"
type = "path"
default = ""

[[options]]
name = "targets"
type = "path"
default = ""

[sandbox]
privilege = "root"
reason = "edits a root-owned server configuration"

[confine]
write_options = ["root"]
network = "none"
'''

VICTIM = b"operator's file, must stay as it is\n"


@pytest.fixture()
def attack(kernel: Kernel, pebble: Pebble, tmp_path: Path) -> dict[str, object]:
    """A registered account, a server root, victims outside it, and the targets file."""
    name = uuid.uuid4().hex[:12]
    dirs = kernel.dirs(f"confine-{name}")
    registered = kernel.run("register", *dirs, *common(pebble))
    assert registered.returncode == 0, registered.stderr
    account_key = next(Path(dirs[1]).glob("accounts/*/*/*/private_key.json"))
    root = world_dir(tmp_path, "server-root")
    outside = world_dir(tmp_path, "outside")
    victim = outside / "victim.conf"
    victim.write_bytes(VICTIM)
    targets = {
        "victim": str(victim),
        "new_outside": str(outside / "planted.conf"),
        "cron": f"/etc/cron.d/certkernel-landlock-test-{name}",
        "account_key": str(account_key),
    }
    targets_file = world_dir(tmp_path, "targets") / "targets.json"
    targets_file.write_text(json.dumps(targets))
    env = install_plugin(kernel.root, f"xdg-hostile-{name}", "hostile-installer", MANIFEST)
    return {"dirs": dirs, "root": root, "targets": targets, "targets_file": targets_file,
            "env": env, "key_bytes": account_key.read_bytes()}


def prepare(kernel: Kernel, attack: dict[str, object], *extra: str) -> dict[str, object]:
    dirs = attack["dirs"]
    assert isinstance(dirs, list)
    result = kernel.run("plugins", "--prepare", "--installers", *extra,
                        "--hostile-installer-root", str(attack["root"]),
                        "--hostile-installer-targets", str(attack["targets_file"]),
                        *dirs, **attack["env"])  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    assert "Prep: True" in result.stdout, result.stdout
    report = Path(dirs[3]) / "plugins" / "hostile-installer" / "report.json"
    data: dict[str, object] = json.loads(report.read_text())
    return data


def test_confined_root_plugin_cannot_write_outside_its_roots(
        kernel: Kernel, attack: dict[str, object]) -> None:
    targets = attack["targets"]
    assert isinstance(targets, dict)
    report = prepare(kernel, attack)
    assert report["uid"] == 0  # it really runs as root
    assert report["victim"] == "denied: EACCES"
    assert report["new_outside"] == "denied: EACCES"
    assert report["cron"] == "denied: EACCES"
    assert report["account_key"] == "denied: EACCES"
    assert report["unlink_account_key"] == "denied: EACCES"
    assert report["bind"] == "denied: EACCES"
    assert report["inside_root"] == "ok"
    assert Path(targets["victim"]).read_bytes() == VICTIM
    assert not Path(targets["new_outside"]).exists()
    assert not Path(targets["cron"]).exists()
    assert Path(targets["account_key"]).read_bytes() == attack["key_bytes"]
    assert (Path(str(attack["root"])) / "ok.conf").exists()


def test_the_same_plugin_unconfined_does_overwrite_the_victim(
        kernel: Kernel, attack: dict[str, object], tmp_path: Path) -> None:
    """Control: with --plugin-user root (no Landlock) the attack works, so the test can fail."""
    targets = dict(attack["targets"])  # type: ignore[call-overload]
    targets["cron"] = str(tmp_path / "not-cron")  # never plant a real cron file
    targets["account_key"] = str(tmp_path / "not-the-key")
    Path(str(attack["targets_file"])).write_text(json.dumps(targets))
    report = prepare(kernel, attack, "--plugin-user", "root")
    assert report["victim"] == "ok"
    assert Path(targets["victim"]).read_bytes() != VICTIM


def test_plugins_command_says_how_the_root_plugin_is_confined(
        kernel: Kernel, attack: dict[str, object]) -> None:
    dirs = attack["dirs"]
    assert isinstance(dirs, list)
    result = kernel.run("plugins", "--installers", *dirs, **attack["env"])  # type: ignore[arg-type]
    line = next(x for x in result.stdout.split("* hostile-installer", 1)[1].splitlines()
                if x.startswith("Runs as: "))
    assert line.startswith("Runs as: root (edits a root-owned server configuration); "
                           "confined by Landlock (ABI ")
    assert line.endswith("TCP: no bind or connect")


def _symlinked_site(tmp_path: Path) -> tuple[Path, Path]:
    """A root-owned web root whose ``.well-known`` is a symlink to a root folder outside it."""
    site = world_dir(tmp_path, "site")
    victim = world_dir(tmp_path, "cron-like")  # stands in for /etc/cron.daily
    (site / ".well-known").symlink_to(victim)
    return site, victim


def test_root_webroot_cannot_write_through_a_planted_symlink_out_of_the_web_root(
        kernel: Kernel, pebble: Pebble, tmp_path: Path) -> None:
    site, victim = _symlinked_site(tmp_path)
    dirs = kernel.dirs(f"webroot-symlink-{uuid.uuid4().hex[:8]}")
    result = kernel.run("certonly", "--webroot", "-w", str(site), "-d", "link.example.org",
                        *dirs, *common(pebble))
    assert result.returncode == 1
    # Landlock refuses the write through the link (EACCES) even where the plugin
    # itself would follow it; the victim folder never sees a file.
    assert list(victim.iterdir()) == []
    assert not (Path(dirs[1]) / "live" / "link.example.org").exists()


def test_without_landlock_root_plugins_run_unconfined_and_plugins_says_so_once(
        kernel: Kernel, attack: dict[str, object]) -> None:
    """A kernel without Landlock (simulated: seccomp makes the syscall fail with ENOSYS)."""
    import subprocess

    from tests.privilege.no_landlock import hide_landlock

    dirs = attack["dirs"]
    assert isinstance(dirs, list)
    result = subprocess.run(  # noqa: S603
        kernel.argv("plugins", "--installers", *dirs), capture_output=True, text=True,
        timeout=120, env=kernel.environment(**attack["env"]),  # type: ignore[arg-type]
        cwd=str(kernel.root), preexec_fn=hide_landlock)  # noqa: PLW1509
    assert result.returncode == 0, result.stderr
    note = "Landlock is not available on this kernel, so root plugins run unconfined"
    assert result.stdout.count(f"Note: {note}.") == 1
    assert "; NOT confined: " + note in result.stdout
    assert "confined by Landlock" not in result.stdout
    log = (Path(dirs[5]) / "letsencrypt.log").read_text()
    assert log.count(note) == 1
