"""Attack 8 of issue 12: plugin storage must not lose writes, leak between
plugins, or grow without bound.

Before the fix two threads doing 200 puts each kept 124 and 78 keys: every
put read the file, changed it and wrote it back with no lock held. renew
runs plugins in parallel, and a second certkernel may run beside it, so the
writers here are threads of one process, separate processes, and real
plugin processes talking to the kernel's storage through the plugin host.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certkernel.errors import PluginStorageError
from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.manifest import load_manifest
from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.proxies import RemoteAuthenticator
from certkernel.plugin_host.services import KernelServices
from certkernel.runtime.plugin_launcher import _StorageAdapter
from certkernel.runtime.plugin_storage import MAX_PLUGIN_BYTES, PluginStorage

HERE = Path(__file__).parent
PUTS = 200
JOIN_TIMEOUT = 120.0


def on_disk(config: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((config / ".pluginstorage.json").read_text())
    return loaded


def expected(prefix: str, count: int = PUTS) -> dict[str, int]:
    return {f"{prefix}{i}": i for i in range(count)}


def run_threads(*targets: Any) -> None:
    failures: list[BaseException] = []

    def guard(target: Any) -> None:
        try:
            target()
        except BaseException as exc:  # reported below, with the thread's error
            failures.append(exc)

    threads = [threading.Thread(target=guard, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
        assert not thread.is_alive(), "a writer did not finish in time"
    assert failures == []


def test_threads_writing_the_same_file_keep_every_key(tmp_path: Path) -> None:
    def writer(plugin: str, prefix: str) -> None:
        store = PluginStorage(str(tmp_path))  # each plugin gets its own instance, as in renew
        for i in range(PUTS):
            store.put(plugin, f"{prefix}{i}", i)

    run_threads(lambda: writer("nginx", "n"), lambda: writer("apache", "a"),
                lambda: writer("nginx", "m"))
    data = on_disk(tmp_path)
    assert data == {"nginx": {**expected("n"), **expected("m")}, "apache": expected("a")}


WRITER = """
import sys
from certkernel.runtime.plugin_storage import PluginStorage
store = PluginStorage(sys.argv[1])
for i in range(int(sys.argv[4])):
    store.put(sys.argv[2], f"{sys.argv[3]}{i}", i)
"""


def test_two_processes_keep_every_key(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), plugin, prefix, str(PUTS)])
        for plugin, prefix in (("nginx", "p"), ("nginx", "q"))
    ]
    for proc in procs:
        assert proc.wait(timeout=JOIN_TIMEOUT) == 0
    assert on_disk(tmp_path) == {"nginx": {**expected("p"), **expected("q")}}


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[Any]:
    """Start the storage probe plugin as ``name``, wired to the kernel's real storage."""
    started: list[PluginProcess] = []
    folder = tmp_path / "probe"
    folder.mkdir()

    def start(name: str, config: Path, **options: Any) -> RemoteAuthenticator:
        (folder / f"{name}.toml").write_text(
            f'name = "{name}"\ndescription = "storage probe"\nversion = "1.0.0"\n'
            'roles = ["authenticator"]\nchallenges = ["http-01"]\n'
            f'command = ["{{python}}", "{HERE / "storage_plugin.py"}"]\n'
            "protocol_versions = [1]\n"
        )
        manifest = load_manifest(folder / f"{name}.toml")
        services = KernelServices(name, storage=_StorageAdapter(str(config), 30.0))
        proc = start_plugin(manifest, services.handle, options=options,
                            state_dir=str(tmp_path / f"state-{name}-{len(started)}"),
                            logger=logging.getLogger(f"test.storage.{name}"))
        started.append(proc)
        return RemoteAuthenticator(proc)

    yield start
    for proc in started:
        proc.kill()


def test_plugin_processes_writing_in_parallel_keep_every_key(tmp_path: Path, probe: Any) -> None:
    config = tmp_path / "config"
    one = probe("probe-one", config, prefix="x", count=PUTS)
    two = probe("probe-two", config, prefix="y", count=PUTS)
    run_threads(one.prepare, two.prepare)  # renew prepares plugins in parallel like this
    assert on_disk(config) == {"probe-one": expected("x"), "probe-two": expected("y")}


def test_a_plugin_cannot_read_or_write_another_plugins_keys(tmp_path: Path, probe: Any) -> None:
    config = tmp_path / "config"
    victim = probe("victim", config, put={"secret": "victim's value"})
    victim.prepare()
    # The attacker asks for the victim's key, and for keys that look like paths into it.
    for key in ("secret", "victim", "victim.secret", "../victim/secret"):
        attacker = probe("attacker", config, peek=key)
        assert json.loads(attacker.more_info()) is None, key
    attacker = probe("attacker", config, put={"secret": "overwritten", "victim": {"secret": 1}})
    attacker.prepare()
    data = on_disk(config)
    assert data["victim"] == {"secret": "victim's value"}
    assert data["attacker"] == {"secret": "overwritten", "victim": {"secret": 1}}
    assert json.loads(probe("victim", config, peek="secret").more_info()) == "victim's value"


def test_a_plugin_over_the_cap_gets_a_clear_error_and_nothing_is_written(tmp_path: Path,
                                                                           probe: Any) -> None:
    config = tmp_path / "config"
    store = PluginStorage(str(config))
    store.put("hog", "small", "kept")
    before = (config / ".pluginstorage.json").read_bytes()
    hog = probe("hog", config, put={"big": "x" * MAX_PLUGIN_BYTES})
    with pytest.raises(PluginStorageError) as info:
        hog.prepare()
    message = str(info.value)
    assert "plugin storage of 'hog' would hold" in message
    assert f"over the cap of {MAX_PLUGIN_BYTES} bytes per plugin" in message
    assert "\n" not in message
    assert (config / ".pluginstorage.json").read_bytes() == before


def test_the_cap_counts_the_whole_section_not_one_value(tmp_path: Path) -> None:
    store = PluginStorage(str(tmp_path), max_bytes=1000)
    for i in range(9):
        store.put("p", f"k{i}", "v" * 95)
    with pytest.raises(PluginStorageError, match="over the cap of 1000 bytes per plugin"):
        store.put("p", "k9", "v" * 95)
    assert [store.get("p", f"k{i}") for i in range(10)] == ["v" * 95] * 9 + [None]
    store.delete("p", "k0")
    store.put("p", "k9", "v" * 95)  # room again after a delete
    assert store.get("p", "k9") == "v" * 95
    store.put("other", "k", "v" * 900)  # the cap is per plugin
