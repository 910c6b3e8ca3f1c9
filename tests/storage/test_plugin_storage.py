"""Plugin storage in Certbot's .pluginstorage.json."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from certkernel.errors import PluginStorageError
from certkernel.plugin_storage import PluginStorage


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
