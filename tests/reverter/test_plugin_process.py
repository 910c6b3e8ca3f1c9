"""Checkpoints driven by a real installer process over the protocol."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel.checkpoints.reverter import Reverter
from certkernel.errors import CallError, PluginCrashed
from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.manifest import load_manifest
from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.proxies import RemoteInstaller
from certkernel.plugin_host.services import KernelServices
from tests.reverter.tree import snapshot

PLUGIN = Path(__file__).with_name("edit_plugin.py")


@pytest.fixture
def editor(tmp_path: Path, root: Path, work_dir: Path) -> Iterator[tuple[RemoteInstaller, Reverter]]:
    folder = tmp_path / "editor-plugin"
    folder.mkdir()
    (folder / "plugin.toml").write_text(
        'name = "editor"\ndescription = "test installer"\nversion = "1.0.0"\n'
        'roles = ["installer"]\nprotocol_versions = [1]\n'
        f'command = ["{{python}}", "{PLUGIN}"]\n'
    )
    reverter = Reverter(str(work_dir), lock_timeout=5)
    services = KernelServices("editor", checkpoints=reverter, roots=[str(root)])
    proc: PluginProcess = start_plugin(
        load_manifest(folder / "plugin.toml"),
        services.handle,
        state_dir=str(tmp_path / "state"),
        logger=logging.getLogger("test.editor"),
    )
    try:
        yield RemoteInstaller(proc), reverter
    finally:
        proc.kill()
        reverter.close()


def test_plugin_changes_are_rolled_back_by_the_kernel(
    editor: tuple[RemoteInstaller, Reverter], root: Path, files: dict[str, Path]
) -> None:
    installer, reverter = editor
    before = snapshot(root)
    new = root / "etc" / "nginx" / "options-ssl.conf"
    installer.deploy_cert("ok", str(files["site"]), str(new), "", "")
    installer.save("Deployed certificate to example.com")
    assert new.exists() and snapshot(root) != before

    installer.enhance("example.com", "undo")  # the plugin asks for checkpoint/rollback 1

    assert snapshot(root) == before
    assert reverter.view() == []


def test_a_plugin_killed_mid_change_is_recovered_by_the_kernel(
    editor: tuple[RemoteInstaller, Reverter], root: Path, files: dict[str, Path]
) -> None:
    installer, reverter = editor
    before = snapshot(root)
    new = root / "etc" / "nginx" / "options-ssl.conf"
    with pytest.raises(PluginCrashed):
        installer.deploy_cert("crash", str(files["main"]), str(new), "", "")
    assert snapshot(root) != before

    assert reverter.needs_recovery()
    reverter.recovery_routine()

    assert snapshot(root) == before


def test_paths_outside_the_plugin_roots_are_refused(
    editor: tuple[RemoteInstaller, Reverter], root: Path, tmp_path: Path
) -> None:
    installer, reverter = editor
    outside = tmp_path / "outside.conf"
    outside.write_text("not yours\n")
    with pytest.raises(CallError, match="outside the roots"):
        installer.deploy_cert("ok", str(outside), str(root / "x.conf"), "", "")
    assert outside.read_text() == "not yours\n"
    assert reverter.view() == []

