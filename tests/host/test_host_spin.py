"""Waiting is bounded busy-polling, then sleeping: slow calls and idle plugins cost no CPU.

The endpoint polls the pipe without blocking for a fraction of a millisecond
before it sleeps (that keeps bursts of small calls fast). These tests hold
it to the other half of the bargain with a real plugin process: a call that
takes half a second, and a plugin left idle, burn (almost) no CPU on either
side, and the answers are still right.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.manifest import load_manifest
from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.proxies import RemoteAuthenticator
from certkernel.plugin_host.services import KernelServices

SLOW = 0.5
CPU_BUDGET = 0.05  # seconds of CPU allowed while waiting SLOW seconds

PLUGIN = f'''
import time
from certkernel.sdk import Authenticator, serve

class Slow(Authenticator):
    name = "slow"
    version = "1"

    def get_chall_pref(self, domain):
        if domain == "slow.example":
            time.sleep({SLOW})
        return ["http-01", domain]

    def perform(self, challenges):
        pass

    def cleanup(self, challenges):
        pass

serve(Slow)
'''


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[PluginProcess]:
    (tmp_path / "slow_plugin.py").write_text(PLUGIN)
    (tmp_path / "plugin.toml").write_text(
        'name = "slow"\ndescription = "test"\nversion = "1"\nroles = ["authenticator"]\n'
        'challenges = ["http-01"]\n'
        f'command = ["{{python}}", "{tmp_path / "slow_plugin.py"}"]\nprotocol_versions = [1]\n'
    )
    process = start_plugin(load_manifest(tmp_path / "plugin.toml"), KernelServices("slow").handle,
                           logger=logging.getLogger("test"))
    yield process
    process.close()


def _plugin_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_slow_call_is_awaited_asleep(slow: PluginProcess) -> None:
    auth = RemoteAuthenticator(slow)
    assert auth.get_chall_pref("a.example") == ["http-01", "a.example"]
    cpu, wall = time.process_time(), time.monotonic()
    assert auth.get_chall_pref("slow.example") == ["http-01", "slow.example"]
    assert time.monotonic() - wall >= SLOW
    assert time.process_time() - cpu < CPU_BUDGET


def test_an_idle_plugin_sleeps(slow: PluginProcess) -> None:
    auth = RemoteAuthenticator(slow)
    for n in range(200):  # a burst: the plugin is polling when it ends
        assert auth.get_chall_pref(f"{n}.example") == ["http-01", f"{n}.example"]
    before = _plugin_cpu(slow.pid)
    time.sleep(SLOW)
    assert _plugin_cpu(slow.pid) - before < CPU_BUDGET
    assert auth.get_chall_pref("b.example") == ["http-01", "b.example"]
