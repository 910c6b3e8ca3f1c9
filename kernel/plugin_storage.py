"""Plugin key-value storage in Certbot's ``<config_dir>/.pluginstorage.json``.

The file is one JSON object keyed by plugin name; each plugin sees only its
own object through the protocol's ``storage/get|put|delete`` calls. Certbot
plugins kept state here (for example the nginx/apache auto-HSTS data), so
the same file and shape are used. Every save rewrites the file atomically,
mode 0600 (a plugin may keep something private in it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from certkernel import fsutil
from certkernel.errors import PluginStorageError

FILENAME = ".pluginstorage.json"


@dataclass
class PluginStorage:
    """The storage of all plugins of one config dir.

    Reads the file on each call rather than caching it, so two plugins (or
    two runs) saving in turn never drop each other's keys; the caller holds
    the config dir lock around a put/delete.
    """

    config_dir: str

    @property
    def path(self) -> str:
        return os.path.join(self.config_dir, FILENAME)

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise PluginStorageError(f"cannot read {self.path}: {exc.strerror}") from exc
        if not data.strip():
            return {}
        try:
            loaded = json.loads(data)
        except ValueError as exc:
            raise PluginStorageError(
                f"{self.path} is not valid JSON ({exc}); fix or remove it"
            ) from exc
        if not isinstance(loaded, dict):
            raise PluginStorageError(f"{self.path} must hold a JSON object")
        return loaded

    def _save(self, everything: dict[str, Any]) -> None:
        try:
            text = json.dumps(everything, indent=4, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise PluginStorageError(f"value cannot be stored as JSON: {exc}") from exc
        fsutil.make_dirs(self.config_dir, 0o755)
        try:
            fsutil.atomic_write(self.path, text + "\n", 0o600)
        except Exception as exc:
            raise PluginStorageError(str(exc)) from exc

    def get(self, plugin: str, key: str, default: Any = None) -> Any:
        section = self._load().get(plugin)
        if not isinstance(section, dict):
            return default
        return section.get(key, default)

    def put(self, plugin: str, key: str, value: Any) -> None:
        everything = self._load()
        section = everything.get(plugin)
        if not isinstance(section, dict):
            section = {}
            everything[plugin] = section
        section[key] = value
        self._save(everything)

    def delete(self, plugin: str, key: str) -> bool:
        """Remove a key; returns whether it was there."""
        everything = self._load()
        section = everything.get(plugin)
        if not isinstance(section, dict) or key not in section:
            return False
        del section[key]
        if not section:
            del everything[plugin]
        self._save(everything)
        return True

    def all_for(self, plugin: str) -> dict[str, Any]:
        section = self._load().get(plugin)
        return dict(section) if isinstance(section, dict) else {}
