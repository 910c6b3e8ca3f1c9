"""The plugin ``certkernel plugin-check NAME|PATH`` is pointed at.

A plugin under development is not installed: it is named by the path of its
``plugin.toml`` or folder. Its manifest is read before the command line is
parsed (so its own options parse) and again when the check starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from certkernel import errors
from certkernel.plugin_host.manifest import Manifest, load_manifest


def _manifest_path(token: str) -> str | None:
    if token.endswith(".toml") and os.path.isfile(token):
        return token
    candidate = os.path.join(token, "plugin.toml")
    return candidate if os.path.isfile(candidate) else None


def with_checked_manifest(
    argv: Sequence[str], manifests: Mapping[str, Manifest]
) -> Mapping[str, Manifest]:
    """The installed manifests plus the one ``plugin-check PATH`` names.

    A plugin under development is not installed, so without this its own
    options (``plugin-check ./dir --mine-path x``) would be refused as unknown
    flags. The first word after the verb that is a manifest file or a folder
    holding one is taken; a broken manifest is left for :func:`resolve` to
    report.
    """
    after = list(argv)[list(argv).index("plugin-check") + 1 :]
    for token in after:
        if token.startswith("-") or (token in manifests and os.sep not in token):
            continue
        path = _manifest_path(token)
        if path is None:
            continue
        try:
            manifest = load_manifest(path, origin="path")
        except errors.ConfigurationError:
            return manifests
        return {**manifests, manifest.name: manifest}
    return manifests


def resolve(target: str, manifests: Mapping[str, Manifest]) -> Manifest:
    """The manifest named ``target``, or read from the file/folder at ``target``."""
    if target in manifests and os.sep not in target:
        return manifests[target]
    if os.path.exists(target):
        return load_manifest(target, origin="path")
    known = ", ".join(sorted(manifests)) or "none"
    raise errors.ConfigurationError(
        f"plugin-check: {target!r} is neither an installed plugin ({known}) nor the path of a "
        "plugin.toml or plugin folder"
    )
