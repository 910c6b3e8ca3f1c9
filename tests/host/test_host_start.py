"""A PluginProcess is configured first and spawns only when started."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from certkernel import errors
from certkernel.plugin_host.launch import plan_for
from certkernel.plugin_host.manifest import load_manifest
from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.services import KernelServices
from certkernel.protocol import methods as wire

from .conftest import HERE, write_manifest


def _configured(tmp_path: Path, marker: Path) -> PluginProcess:
    """A process for a plugin whose first act is to create ``marker``."""
    script = tmp_path / "touch_then_serve.py"
    script.write_text(
        "import pathlib, runpy, sys\n"
        f"pathlib.Path({str(marker)!r}).touch()\n"
        f"sys.argv = [{str(HERE / 'scenario_plugin.py')!r}, 'good']\n"
        f"runpy.run_path({str(HERE / 'scenario_plugin.py')!r}, run_name='__main__')\n"
    )
    folder = write_manifest(tmp_path / "plugin", "scenario", ["{python}", str(script)])
    manifest = load_manifest(folder / "plugin.toml")
    return PluginProcess(plan_for(manifest), KernelServices("scenario").handle,
                         logging.getLogger("test.start"))


def test_constructor_does_not_spawn(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    proc = _configured(tmp_path, marker)
    try:
        assert not proc.started
        with pytest.raises(errors.PluginError, match="plugin scenario was not started"):
            proc.call("prepare")
        assert not marker.exists()
        proc.start()
        info = proc.handshake(wire.InitializeParams(
            protocol_versions=[1], kernel_version="test", name="scenario"))
        assert info["protocol_version"] == 1
        assert marker.exists()
        with pytest.raises(errors.PluginError, match="already started"):
            proc.start()
    finally:
        proc.close()
    assert proc.popen.returncode is not None


def test_closing_an_unstarted_process_spawns_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    proc = _configured(tmp_path, marker)
    proc.close()
    assert proc.closed
    assert not marker.exists()
    with pytest.raises(errors.PluginError, match="already stopped"):
        proc.call("prepare")
