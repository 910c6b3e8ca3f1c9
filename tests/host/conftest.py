"""Fixtures that run the scenario plugin through the real plugin host."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.manifest import load_manifest
from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.services import KernelServices
from certkernel.sdk.testing import MemoryStorage, ScriptedDisplay

HERE = Path(__file__).parent


def write_manifest(folder: Path, name: str, argv: Sequence[str], timeouts: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    command = ", ".join(f'"{a}"' for a in argv)
    (folder / "plugin.toml").write_text(
        f'name = "{name}"\n'
        'description = "scenario plugin for tests"\n'
        'version = "9.9.9"\n'
        'roles = ["authenticator", "installer"]\n'
        'challenges = ["http-01", "dns-01"]\n'
        f"command = [{command}]\n"
        "protocol_versions = [1]\n"
        + (f"[timeouts]\n{timeouts}\n" if timeouts else "")
    )
    return folder


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Callable[..., PluginProcess]]:
    """Start the scenario plugin with a given behaviour; stops it afterwards."""
    started: list[PluginProcess] = []

    def start(
        name: str = "good",
        display: ScriptedDisplay | None = None,
        storage: MemoryStorage | None = None,
        timeouts: str = "",
    ) -> PluginProcess:
        folder = write_manifest(
            tmp_path / f"plugin-{name}",
            "scenario",
            ["{python}", str(HERE / "scenario_plugin.py"), name],
            timeouts,
        )
        manifest = load_manifest(folder / "plugin.toml")
        services = KernelServices("scenario", display=display, storage=storage)
        proc = start_plugin(
            manifest,
            services.handle,
            state_dir=str(tmp_path / "state"),
            logger=logging.getLogger("test.scenario"),
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


__all__ = ["ScriptedDisplay", "MemoryStorage", "write_manifest", "sys"]
