"""Typed reads of one ``plugin.toml`` table, with errors that name the file.

Shared by the manifest parsers (:mod:`certkernel.plugin_host.manifest` and its
helpers): every mistake becomes one ConfigurationError line naming the
manifest and the key, so ``certkernel plugins`` can show it as is.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from certkernel.errors import ConfigurationError


class Reader:
    """Typed access to one TOML table with errors that name the file."""

    def __init__(self, path: Path, data: Mapping[str, Any], context: str = "") -> None:
        self.path = path
        self.data = data
        self.context = context

    def fail(self, message: str) -> ConfigurationError:
        return ConfigurationError(f"plugin manifest {self.path}: {self.context}{message}")

    def str(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(f"missing required key {key!r}")
        if not isinstance(value, str):
            raise self.fail(f"{key!r} must be a string")
        return value

    def bool(self, key: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{key!r} must be true or false")
        return value

    # The methods above shadow the builtins ``str`` and ``bool`` in this class body.
    def str_list(self, key: builtins.str, required: builtins.bool = False
                 ) -> tuple[builtins.str, ...]:
        if key not in self.data:
            if required:
                raise self.fail(f"missing required key {key!r}")
            return ()
        value = self.data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key!r} must be a list of strings")
        return tuple(value)

    def table(self, key: builtins.str) -> dict[builtins.str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"[{key}] must be a table")
        return dict(value)
