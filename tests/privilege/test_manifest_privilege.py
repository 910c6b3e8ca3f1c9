"""How manifests declare privilege and confinement, and what the kernel decides from them.

Run in-process on real manifests (the built-in ones and small written ones);
the decisions that start processes are covered against Pebble elsewhere.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from certkernel.errors import ConfigurationError
from certkernel.plugin_host.manifest import Manifest, load_manifest
from certkernel.plugin_host.sandbox import decide
from certkernel.plugin_host.sandbox_paths import make_placed

BASE = '''
name = "probe"
roles = ["installer"]
command = ["{python}", "-m", "probe"]

[[options]]
name = "root"
type = "path"
default = ""
'''


def write(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "probe"
    folder.mkdir(exist_ok=True)
    (folder / "plugin.toml").write_text(BASE + extra)
    return folder


@pytest.mark.parametrize(("extra", "message"), [
    ('[sandbox]\nprivilege = "root"\n', 'privilege = "root" needs reason = "..."'),
    ('[sandbox]\nprivilege = "owner"\nreason = "x"\n', '"owner" needs [confine] write_options'),
    ('[sandbox]\nprivilege = "admin"\n', "privilege 'admin' is not one of"),
    ('[confine]\nwrite_options = ["nope"]\n', "write_options names 'nope'"),
    ('[confine]\nwrite_paths = ["relative/dir"]\n', "must be an absolute path"),
    ('[confine]\nwrite_paths = ["{work_dir}/backups"]\n', "not one of certkernel's own"),
    ('[confine]\nwrite_files = ["{config_dir}/cli.ini"]\n', "not one of certkernel's own"),
    ('[confine]\nwrite_files = ["{config_dir}/live/x/privkey.pem"]\n', "one new entry"),
    ('[confine]\nwrite_paths = ["{config_dir}/x"]\n', "one new entry in {work_dir}"),
    ('[confine]\nwrite_paths = ["/etc/../root"]\n', "must not contain '..'"),
    ('[confine]\nnetwork = "all"\n', "network 'all' is not one of"),
])
def test_bad_declarations_are_one_clear_manifest_error(
        tmp_path: Path, extra: str, message: str) -> None:
    folder = write(tmp_path, extra)
    with pytest.raises(ConfigurationError) as caught:
        load_manifest(folder)
    assert str(caught.value).startswith(f"plugin manifest {folder / 'plugin.toml'}: ")
    assert message in str(caught.value)


REPO = Path(__file__).resolve().parents[2]


def builtin(name: str) -> Manifest:
    return load_manifest(REPO / "plugins" / name)


def test_without_landlock_root_plugins_run_unconfined_and_it_is_said_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    if os.geteuid() != 0:
        pytest.fail("decisions for root runs need root")
    from certkernel.plugin_host import sandbox

    sandbox._warned_missing.clear()
    with caplog.at_level(logging.WARNING, logger="certkernel.plugins"):
        first = decide(builtin("nginx"), None, {}, work_dir=str(tmp_path), config_dir="/x",
                       landlock_abi=0)
        second = decide(builtin("apache"), None, {}, work_dir=str(tmp_path), config_dir="/x",
                        landlock_abi=0)
    assert first.user is None and first.confine is None
    assert second.confine is None
    assert first.why.endswith("NOT confined: Landlock is not available on this kernel, so "
                              "root plugins run unconfined")
    assert first.unconfined_note == second.unconfined_note != ""
    warnings = [r.getMessage() for r in caplog.records if "Landlock is not available" in r.message]
    assert len(warnings) == 1


def test_confined_paths_come_from_options_manifest_and_state_dir(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("decisions for root runs need root")
    server = tmp_path / "server"
    decision = decide(builtin("apache"), None, {"server-root": str(server), "vhost-root": ""},
                      work_dir=str(tmp_path / "work"), config_dir=str(tmp_path / "config"),
                      state_dir=str(tmp_path / "work" / "plugins" / "apache"))
    assert decision.confine is not None
    paths = decision.confine.write_paths
    assert paths[0] == str(server)
    assert str(tmp_path / "work" / "http_challenges") in paths
    assert str(tmp_path / "config" / "options-ssl-apache.conf") in paths
    assert paths[-1] == str(tmp_path / "work" / "plugins" / "apache")
    assert not any(p == str(tmp_path / "config") for p in paths)  # never the whole config dir
    assert decision.confine.allow_connect and not decision.confine.allow_bind


def test_declared_kernel_entries_are_made_once_and_never_replaced(tmp_path: Path) -> None:
    config, work = tmp_path / "config", tmp_path / "work"
    config.mkdir()
    (config / "options-ssl-apache.conf").mkdir()  # a folder where a file is declared
    with pytest.raises(Exception, match="must be a regular file"):
        make_placed(builtin("apache"), str(work), str(config))
    assert (config / "options-ssl-apache.conf").is_dir()
    (config / "options-ssl-apache.conf").rmdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep")
    (config / "options-ssl-apache.conf").symlink_to(elsewhere)  # root's own setup: kept
    make_placed(builtin("apache"), str(work), str(config))
    assert (config / "options-ssl-apache.conf").is_symlink()
    assert elsewhere.read_text() == "keep"
    (config / "options-ssl-apache.conf").unlink()
    make_placed(builtin("apache"), str(work), str(config))
    made = config / "options-ssl-apache.conf"
    assert made.is_file() and made.read_bytes() == b""
    assert oct(made.stat().st_mode & 0o777) == "0o644"
    assert (work / "http_challenges").is_dir()


def test_webroot_with_roots_of_different_owners_runs_as_root_confined_to_them(
        tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("decisions for root runs need root")
    import pwd

    mine, theirs = tmp_path / "a", tmp_path / "b"
    mine.mkdir()
    theirs.mkdir()
    www = pwd.getpwnam("www-data")
    os.chown(theirs, www.pw_uid, www.pw_gid)
    webroot = builtin("webroot")
    mixed = decide(webroot, None, {"path": [str(mine)], "map": {"b.example": str(theirs)}},
                   work_dir=str(tmp_path / "w"), config_dir=str(tmp_path / "c"))
    assert mixed.user is None
    assert mixed.why.startswith("root (its roots have different owners; ")
    assert mixed.confine is not None
    assert mixed.confine.write_paths[:2] == (str(mine), str(theirs))
    assert not mixed.confine.allow_connect and not mixed.confine.allow_bind
    # a symlink is judged by its own owner (lstat), not by what it points to
    link = tmp_path / "link"
    link.symlink_to(theirs)
    via_link = decide(webroot, None, {"path": [str(link)]}, work_dir=str(tmp_path / "w"),
                      config_dir=str(tmp_path / "c"))
    assert via_link.user is None and via_link.why.startswith("root (its roots are owned by root")
    owned = decide(webroot, None, {"path": [str(theirs)]}, work_dir=str(tmp_path / "w"),
                   config_dir=str(tmp_path / "c"))
    assert owned.user is not None and owned.user.uid == www.pw_uid and owned.confine is None
