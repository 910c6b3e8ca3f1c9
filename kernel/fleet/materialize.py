"""Write a lineage from the fleet store into this host's Certbot layout under ``--config-dir``.

Why: web servers, hooks and installers read ``live/<name>/…`` on each host,
so the store is the truth and each host's config dir is a copy of it. The
copy uses the store's version numbers (``archive/<name>/cert7.pem`` is the
store's version 7 on every host), follows :mod:`certkernel.lineages.storage`'s order
(archive files first, each atomic; then the live links; the renewal conf
last), and keeps a lineage's existing local paths when its conf names other
ones (a migrated Certbot setup).

Two processes of one host may sync one lineage at once (a ``renew`` and a
``certificates``, two threads): the copy is made under a local ``flock``
(``fleet-sync`` lock) and the caller reads the store inside it, so a later
sync never moves the live links back to an older version.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from certkernel import crypto, fsutil
from certkernel.errors import CertStorageError, StorageError
from certkernel.lineages import lineage_files, renewal_conf
from certkernel.lineages.lineage_files import ALL_FOUR, FILE_MODES, Layout
from certkernel.lineages.lineage_store import LocalStore
from certkernel.lineages.storage import DIR_MODE_LINEAGE, DIR_MODE_TOP, ConfigDirs
from certkernel.lock import make_lock
from certkernel.version import __version__


@dataclass(frozen=True)
class VersionFiles:
    """One version's four PEM files, the key already unsealed."""

    number: int
    cert: bytes
    chain: bytes
    fullchain: bytes
    privkey: bytes = field(repr=False)

    def by_kind(self) -> dict[str, bytes]:
        return {"cert": self.cert, "chain": self.chain, "fullchain": self.fullchain,
                "privkey": self.privkey}


@dataclass(frozen=True)
class Snapshot:
    """What the store says a lineage is: its current version and its renewal conf."""

    name: str
    current: int
    numbers: tuple[int, ...]
    params: Mapping[str, Any]
    renew_before_expiry: str | None


def sync_lock(config_dir: str, name: str, timeout: float) -> Any:
    return make_lock(config_dir, "fleet-sync", name,
                     f"the local copy of the certificate lineage {name}", timeout)


def local_layout(config_dir: str, name: str) -> Layout:
    """The lineage's paths: its existing conf's, else Certbot's defaults."""
    dirs = ConfigDirs(config_dir)
    with contextlib.suppress(StorageError):
        conf = renewal_conf.read(dirs.conf_path(name))
        return Layout(conf.archive_dir, {k: conf.link(k) for k in ALL_FOUR})
    return Layout(os.path.join(dirs.archive, name), dirs.default_links(name))


def missing_versions(layout: Layout, snapshot: Snapshot) -> list[int]:
    """Store versions this host must fetch: absent locally, and always the current one
    (which is compared byte for byte, so a local version of the same number that the
    store does not have, from a run while the store was unreachable, is replaced)."""
    complete = set(layout.complete_versions())
    return [n for n in snapshot.numbers if n not in complete or n == snapshot.current]


def apply(config_dir: str, snapshot: Snapshot, layout: Layout,
          versions: list[VersionFiles]) -> bool:
    """Write ``versions`` and point the live links at ``snapshot.current``.

    Returns whether anything under ``live/`` changed (a new current version
    or a different file), which is what deploy hooks care about. A version
    whose certificate is not its key's, or whose fullchain is not cert and
    chain, is refused before anything is written (rows are written by every
    host of the fleet, and by whoever else can reach the database).
    """
    for files in versions:
        check(snapshot.name, files)
    dirs = ConfigDirs(config_dir)
    for top in (dirs.archive, dirs.live, dirs.renewal):
        fsutil.make_dirs(top, DIR_MODE_TOP)
    fsutil.make_dirs(layout.archive_dir, DIR_MODE_LINEAGE)
    live_dir = os.path.dirname(layout.links["cert"])
    fsutil.make_dirs(live_dir, DIR_MODE_LINEAGE)
    changed = False
    for files in versions:
        for kind in ("privkey", "cert", "chain", "fullchain"):  # the key first, as storage does
            data = files.by_kind()[kind]
            path = layout.archive_path(kind, files.number)
            if _same(path, data):
                continue
            fsutil.atomic_write(path, data, FILE_MODES[kind])
            changed = changed or files.number == snapshot.current
    if layout.current_version() != snapshot.current:
        layout.switch_links(snapshot.current)
        changed = True
    readme = os.path.join(live_dir, "README")
    if not os.path.exists(readme):
        fsutil.atomic_write(readme, lineage_files.LIVE_README, 0o644)
    _write_conf(dirs.conf_path(snapshot.name), layout, snapshot)
    return changed


def check(name: str, files: VersionFiles) -> None:
    """``CertStorageError`` unless the version is whole: key matches cert, fullchain = cert + chain."""
    if not crypto.key_matches_cert(files.privkey, files.cert):
        raise CertStorageError(
            f"version {files.number} of {name} in the fleet store does not match its private "
            "key (the row was altered); this host keeps its current files")
    if _norm(files.fullchain) != _norm(files.cert) + _norm(files.chain):
        raise CertStorageError(
            f"version {files.number} of {name} in the fleet store has a fullchain that is not "
            "its cert followed by its chain (the row was altered); this host keeps its files")


def _norm(pem: bytes) -> bytes:
    text = pem.replace(b"\r\n", b"\n").strip(b"\n")
    return text + b"\n" if text else b""


def _same(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(data) + 1) == data
    except OSError:
        return False


def _write_conf(path: str, layout: Layout, snapshot: Snapshot) -> None:
    """Rewrite the renewal conf only when the store's differs (a rewrite costs an fsync)."""
    params = {k: renewal_conf.to_conf_value(v) for k, v in snapshot.params.items()}
    with contextlib.suppress(StorageError):
        conf = renewal_conf.read(path)
        if (conf.params.as_dict() == params and conf.archive_dir == layout.archive_dir
                and all(conf.link(k) == layout.links[k] for k in ALL_FOUR)
                and (snapshot.renew_before_expiry is None
                     or conf.renew_before_expiry == snapshot.renew_before_expiry)):
            return
    renewal_conf.write(path, layout.archive_dir, layout.links, params, version=__version__,
                       renew_before_expiry=snapshot.renew_before_expiry)


def remove_local(config_dir: str, name: str) -> None:
    """Remove this host's copy of a lineage the store no longer has (conf first)."""
    LocalStore(config_dir, 0.0).delete(name)
