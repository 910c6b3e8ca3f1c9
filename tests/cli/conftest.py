"""Helpers for the CLI tests: plugin folders on disk and the real console script."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CERTKERNEL = Path(sys.executable).parent / "certkernel"

# A plugin served through the real SDK; its behaviour is chosen by an option.
PLUGIN_SOURCE = '''
import sys
from certkernel.sdk import Authenticator, MisconfigurationError, NoInstallationError, serve

class Probe(Authenticator):
    name = "{name}"
    version = "2.5.0"
    def prepare(self):
        mode = self.options.get("mode")
        if mode == "misconfigured":
            raise MisconfigurationError("probe config is broken: see /etc/probe.conf")
        if mode == "missing":
            raise NoInstallationError("probe server is not installed")
    def more_info(self):
        if self.options.get("mode") == "no-info":
            raise NotImplementedError  # answered as MethodNotFound: more_info is optional
        return "Probe {name}: a\\x1b[31m test\\nplugin"
    def get_chall_pref(self, domain):
        return ["http-01"]
    def perform(self, challenges):
        pass
    def cleanup(self, challenges):
        pass

serve(Probe)
'''


def write_plugin(
    root: Path,
    name: str,
    *,
    roles: tuple[str, ...] = ("authenticator",),
    options: str = "",
    description: str = "",
    mode: str | None = None,
) -> Path:
    """A plugin folder ``root/name`` with a manifest and an SDK program."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe.py").write_text(PLUGIN_SOURCE.format(name=name))
    mode_option = ""
    if mode is not None:
        mode_option = f'[[options]]\nname = "mode"\ntype = "str"\ndefault = "{mode}"\n'
    roles_toml = ", ".join(f'"{r}"' for r in roles)
    (folder / "plugin.toml").write_text(
        textwrap.dedent(
            f"""\
            name = "{name}"
            description = "{description or f'The {name} test plugin'}"
            version = "2.5.0"
            roles = [{roles_toml}]
            challenges = ["http-01"]
            command = ["{{python}}", "{{dir}}/probe.py"]
            protocol_versions = [1]
            """
        )
        + mode_option
        + textwrap.dedent(options)
    )
    return folder


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Env:
    """An isolated home for one test: config, work and logs dirs, a plugin path."""

    root: Path
    plugins: Path
    env: dict[str, str]

    @property
    def dirs(self) -> list[str]:
        return [
            "--config-dir", str(self.root / "etc"),
            "--work-dir", str(self.root / "work"),
            "--logs-dir", str(self.root / "logs"),
        ]

    def run(self, *args: str, stdin: str | None = None, module: bool = False) -> Result:
        cmd = [sys.executable, "-m", "certkernel"] if module else [str(CERTKERNEL)]
        proc = subprocess.run(
            [*cmd, *args], input=stdin, capture_output=True, text=True,
            env=self.env, timeout=60, cwd=self.root,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli_env(tmp_path: Path) -> Env:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "CERTKERNEL_PLUGIN_PATH": str(plugins),
        "LANG": "C.UTF-8",
    }
    return Env(tmp_path, plugins, env)


@pytest.fixture
def make_plugin() -> Callable[..., Path]:
    return write_plugin
