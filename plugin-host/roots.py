"""The directories an installer may have the kernel checkpoint: resolved from its manifest.

A plugin names files; the kernel (often root) copies, restores and deletes
them.  So the kernel decides *where* a plugin may ask: only beneath the
roots its manifest declares (``[needs] checkpoint_roots``), taken from the
values of the named options, or the manifest's defaults when an option is
empty.  A relative value is relative to the first root (Apache's
``vhost-root = sites-available``).  Roots are resolved once, here, while
the operator's configuration is trusted; every later use opens beneath them
without following a symlink (``certkernel.beneath``).

A root may never overlap the kernel's own folders (config, work, logs),
which hold keys, checkpoints and every plugin's state directory: a plugin
must not get the kernel to restore into the place the plugin itself writes.

Only the standard library is imported (``certkernel plugins`` lists roots).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from certkernel.errors import ConfigurationError
from certkernel.plugin_host.manifest import Manifest, RootOption


def _value(root: RootOption, options: Mapping[str, Any]) -> str:
    raw = options.get(root.option)
    if raw in (None, ""):
        raw = options.get(root.option.replace("-", "_"))
    return "" if raw in (None, "") else str(raw)


def _default(root: RootOption) -> str:
    """The first default that is a directory (as the plugin picks), else the first one."""
    for path in root.defaults:
        if os.path.isdir(path):
            return path
    return root.defaults[0] if root.defaults else ""


def _inside(path: str, parent: str) -> bool:
    """``path`` is ``parent`` or beneath it (both normalized, absolute)."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def overlaps(a: str, b: str) -> bool:
    """One of two normalized absolute paths contains the other."""
    return _inside(a, b) or _inside(b, a)


def resolve_roots(manifest: Manifest, options: Mapping[str, Any]) -> list[str]:
    """The absolute, symlink-free directories ``manifest``'s plugin may checkpoint.

    Empty when the manifest declares none.  Nested roots collapse into the
    outer one.  Raises ConfigurationError for a value that cannot be a root.
    """
    found: list[str] = []
    for root in manifest.checkpoint_roots:
        value = _value(root, options) or _default(root)
        if not value:
            continue
        value = os.path.expanduser(value)
        if not os.path.isabs(value):
            if not found:
                continue  # relative to a first root that is not set: nothing to add
            value = os.path.join(found[0], value)
        real = os.path.realpath(value)
        if real == "/":
            raise ConfigurationError(
                f"--{manifest.name}-{root.option} {value}: the whole file system cannot be a "
                f"checkpoint root; name the server's own configuration folder"
            )
        found.append(real)
    kept: list[str] = []
    for path in found:
        if any(_inside(path, other) for other in kept):
            continue
        kept = [other for other in kept if not _inside(other, path)]
        kept.append(path)
    return kept


def check_roots(manifest: Manifest, roots: Sequence[str], kernel_dirs: Mapping[str, str]) -> None:
    """Refuse roots that overlap the kernel's folders (``{"--work-dir": path, ...}``).

    The work dir holds the checkpoints themselves and every plugin's state
    directory; the config dir holds private keys.
    """
    for root in roots:
        for flag, directory in kernel_dirs.items():
            real = os.path.realpath(directory)
            if overlaps(root, real):
                raise ConfigurationError(
                    f"{manifest.name}: checkpoint root {root} overlaps {flag} {real}; the kernel "
                    f"never restores files into its own folders or a plugin's state directory. "
                    f"Point the plugin's {describe(manifest)} elsewhere"
                )


def describe(manifest: Manifest) -> str:
    """The flags that set a plugin's roots, for messages."""
    flags = [f"--{manifest.name}-{root.option}" for root in manifest.checkpoint_roots]
    return " / ".join(flags) if flags else "(none declared)"
