"""The lineage store the engines use: Certbot's layout under ``--config-dir``.

Why a store object rather than ``Lineage.load``/``lineage_lock`` calls spread
through the engines: the obtain flow, the renewal runner and ``obtain`` then
reach lineages and their locks through one seam,
:class:`certkernel.interfaces.LineageStore`, whose contract (errors,
concurrency, idempotence, re-check after the lock) is written there. A shared
store (fleet mode) is a second implementation of that seam; :func:`store_for`
is the one place that chooses it.

The lock timeout is the resolved ``Config.lock_timeout``, handed in, never
read from the environment here.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certkernel.errors import LineageNotFound, StorageError, ValidationError
from certkernel.lineages import renewal_conf
from certkernel.lineages.storage import ConfigDirs, Lineage, conf_paths
from certkernel.lock import FileLock, lineage_lock
from certkernel.names import validate_cert_name

if TYPE_CHECKING:
    pass

CONF_SUFFIX = ".conf"


@dataclass(frozen=True)
class LocalStore:
    """Lineages in ``config_dir`` (archive/, live/, renewal/), locked with ``flock``.

    Satisfies :class:`certkernel.interfaces.LineageStore`. Holds no state but
    its two settings, so threads and processes may share one or make their
    own; exclusion comes from the locks, consistency from the write order
    of :mod:`certkernel.lineages.storage`.
    """

    config_dir: str
    lock_timeout: float

    def names(self) -> list[str]:
        return sorted(os.path.basename(path)[: -len(CONF_SUFFIX)]
                      for path in conf_paths(self.config_dir))

    def load(self, name: str) -> Lineage:
        return Lineage.load(self.config_dir, _checked(name))

    def create(self, name: str, cert: bytes, chain: bytes, fullchain: bytes, key_pem: bytes,
               renewalparams: Mapping[str, Any]) -> Lineage:
        return Lineage.create(self.config_dir, name, cert, chain, fullchain, key_pem,
                              renewalparams)

    def save_version(self, lineage: Lineage, cert: bytes, chain: bytes, fullchain: bytes,
                     key_pem: bytes | None,
                     renewalparams: Mapping[str, Any] | None = None) -> int:
        return lineage.save_new_version(cert, chain, fullchain, key_pem, renewalparams)

    def save_renewalparams(self, lineage: Lineage, renewalparams: Mapping[str, Any]) -> None:
        lineage.save_renewalparams(renewalparams)

    def delete(self, name: str) -> bool:
        """Delete, also a lineage too broken to load (its conf, live links, archive)."""
        conf = ConfigDirs(self.config_dir).conf_path(_checked(name))
        if not os.path.lexists(conf):
            return False
        try:
            lineage = Lineage.load(self.config_dir, name, repair=False)
        except LineageNotFound:
            return False  # another deleter was first
        except StorageError:
            _delete_broken(self.config_dir, name, conf)
        else:
            lineage.delete()
        return True

    def renewed_elsewhere(self, lineage: Lineage) -> bool:
        """Always False: every run on one host plans from the same files, so the runner's
        version comparison already sees a renewal another run made meanwhile."""
        return False

    def share_renewal_info(self, lineage: Lineage) -> None:
        """Nothing to do: ``archive/<name>/ari.json`` is where every run of this host reads it."""

    def now(self) -> datetime.datetime:
        """This host's clock: its runs are the only ones that read these files."""
        return datetime.datetime.now(datetime.UTC)

    def lock(self, name: str) -> FileLock:
        return lineage_lock(self.config_dir, name, self.lock_timeout)


def _checked(name: str) -> str:
    """Refuse a name that would reach outside ``renewal/`` before it becomes a path."""
    try:
        return validate_cert_name(name)
    except ValidationError as exc:
        raise LineageNotFound(str(exc)) from None


def _delete_broken(config_dir: str, name: str, conf: str) -> None:
    """A lineage that does not load still goes: conf first, then the live links, the archive."""
    dirs = ConfigDirs(config_dir)
    live = os.path.join(dirs.live, name)
    try:
        archive = renewal_conf.read(conf).archive_dir
    except StorageError:
        archive = os.path.join(dirs.archive, name)
    try:
        os.unlink(conf)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StorageError(f"cannot delete {conf}: {exc.strerror}") from exc
    for base in ("cert.pem", "chain.pem", "fullchain.pem", "privkey.pem", "README"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(live, base))
    with contextlib.suppress(OSError):
        os.rmdir(live)  # missing, or the user keeps their own files there
    shutil.rmtree(archive, ignore_errors=True)
