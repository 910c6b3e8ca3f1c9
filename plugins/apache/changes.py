"""Pending changes to an Apache tree, written only after the kernel has backups.

Edits to config text live in :class:`.config.ApacheConfig`; this adds the
things that are not text edits (Debian's ``*-enabled`` symlinks) and the
save protocol: tell the checkpointer which files will change or appear,
write, run httpd's config test, and put every byte back if httpd refuses
the result, so a bad change never stays on disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from certkernel.sdk import MisconfigurationError
from certkernel.sdk.atomic import write_atomic

from .config import ApacheConfig


class Checkpointer(Protocol):
    """What the kernel's checkpoint service offers (``self.kernel`` in the SDK)."""

    def checkpoint_add(self, files: list[str], temporary: bool = False) -> None:
        """Back up existing files before they change."""

    def checkpoint_register_new(self, files: list[str], temporary: bool = False) -> None:
        """Record files about to be created (a rollback deletes them)."""


@dataclass
class PendingLinks:
    """Symlinks to create at save time: link path -> relative target."""

    links: dict[Path, str] = field(default_factory=dict)

    def add(self, link: Path, target: str) -> None:
        """Schedule ``link -> target`` unless the link already exists."""
        if not link.exists() and not link.is_symlink():
            self.links[link] = target


def save_all(
    config: ApacheConfig,
    links: PendingLinks,
    checkpointer: Checkpointer,
    temporary: bool,
    config_test: Callable[[], None] | None,
) -> list[Path]:
    """Register, write, test; on a failed test restore everything and raise.

    Returns the paths written or created.
    """
    changed, new = config.pending()
    new_links = sorted(links.links)
    if not changed and not new and not new_links:
        return []
    if changed:
        checkpointer.checkpoint_add([str(p) for p in changed], temporary)
    if new or new_links:
        checkpointer.checkpoint_register_new([str(p) for p in new + new_links], temporary)
    previous = config.save(lambda _c, _n: None)
    made: list[Path] = []
    try:
        for link in new_links:
            os.symlink(links.links[link], link)
            made.append(link)
        links.links.clear()
        if config_test is not None:
            config_test()
    except MisconfigurationError:
        _restore(previous, made)
        config.forget()
        raise
    except OSError as exc:
        _restore(previous, made)
        config.forget()
        raise MisconfigurationError(f"cannot write Apache config: {exc}") from exc
    config.forget()
    return [*changed, *new, *new_links]


def _restore(previous: dict[Path, bytes | None], links: list[Path]) -> None:
    """Put back the bytes we replaced and delete what we created."""
    for link in links:
        if link.is_symlink():
            link.unlink()
    for path, data in previous.items():
        if data is None:
            path.unlink(missing_ok=True)
        else:
            write_atomic(path, data)
