"""Plugin storage in Certbot's .pluginstorage.json."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from certkernel.errors import PluginStorageError
from certkernel.runtime.plugin_storage import PluginStorage


def test_put_get_delete_per_plugin(tmp_path: Path) -> None:
    store = PluginStorage(str(tmp_path))
    assert store.get("nginx", "missing") is None
    store.put("nginx", "autohsts", {"example.com": {"laststep": 1, "timestamp": 1.5}})
    store.put("apache", "x", [1, 2])
    assert store.get("nginx", "autohsts") == {"example.com": {"laststep": 1, "timestamp": 1.5}}
    assert store.get("apache", "x") == [1, 2]
    on_disk = json.loads((tmp_path / ".pluginstorage.json").read_text())
    assert on_disk == {"apache": {"x": [1, 2]}, "nginx": {"autohsts": {"example.com": {"laststep": 1, "timestamp": 1.5}}}}
    assert stat.S_IMODE(os.stat(tmp_path / ".pluginstorage.json").st_mode) == 0o600
    assert store.delete("apache", "x") is True
    assert store.delete("apache", "x") is False
    assert "apache" not in json.loads((tmp_path / ".pluginstorage.json").read_text())


def test_reads_certbot_file_and_keeps_other_plugins(tmp_path: Path) -> None:
    (tmp_path / ".pluginstorage.json").write_text('{"apache": {"_autohsts": {"a.example": {"laststep": 0}}}}')
    store = PluginStorage(str(tmp_path))
    store.put("nginx", "k", "v")
    assert store.get("apache", "_autohsts") == {"a.example": {"laststep": 0}}


def test_corrupt_file_is_a_clear_error_and_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / ".pluginstorage.json"
    path.write_text("{not json")
    store = PluginStorage(str(tmp_path))
    with pytest.raises(PluginStorageError, match=r"\.pluginstorage\.json is not valid JSON"):
        store.put("nginx", "k", "v")
    assert path.read_text() == "{not json"


def test_unstorable_value(tmp_path: Path) -> None:
    with pytest.raises(PluginStorageError, match="cannot be stored as JSON"):
        PluginStorage(str(tmp_path)).put("nginx", "k", {1, 2})


def _hold_lock(path: str) -> subprocess.Popen[str]:
    """Another certkernel-like process holding the plugin storage's lock until killed."""
    code = (
        "import sys, time\n"
        "from certkernel.lock import FileLock\n"
        "lock = FileLock(sys.argv[1], 5.0, 'the plugin storage')\n"
        "lock.acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n"
    )
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_writer_waits_at_most_its_timeout_and_names_the_holder(tmp_path: Path) -> None:
    store = PluginStorage(str(tmp_path), lock_timeout=0.3)
    store.put("nginx", "kept", 1)
    holder = _hold_lock(store.lock_path)
    try:
        started = time.monotonic()
        with pytest.raises(PluginStorageError) as caught:
            store.put("nginx", "late", 2)
        assert time.monotonic() - started < 10  # bounded by lock_timeout, not forever
        message = str(caught.value)
        assert f"PID {holder.pid}" in message
        assert "\n" not in message
        assert store.get("nginx", "kept") == 1  # reads take no lock
        assert store.get("nginx", "late") is None
    finally:
        holder.kill()
        holder.wait(timeout=10)
    store.put("nginx", "late", 2)  # a killed holder's lock is free
    assert store.get("nginx", "late") == 2


def test_a_writer_behind_another_thread_times_out_naming_this_process(tmp_path: Path) -> None:
    first = PluginStorage(str(tmp_path), lock_timeout=30)
    second = PluginStorage(str(tmp_path), lock_timeout=0.3)
    inside, leave = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with first._locked():  # a put in progress on another thread
            inside.set()
            leave.wait(30)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert inside.wait(30)
        with pytest.raises(PluginStorageError) as caught:
            second.put("nginx", "k", 1)
        assert f"PID {os.getpid()}" in str(caught.value)
        assert "\n" not in str(caught.value)
    finally:
        leave.set()
        thread.join(timeout=30)
    second.put("nginx", "k", 1)
    assert second.get("nginx", "k") == 1
