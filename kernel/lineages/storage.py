"""Certificate lineages in Certbot's layout under ``--config-dir``.

::

    archive/<name>/{cert,chain,fullchain,privkey}N.pem   every version, never rewritten
    live/<name>/{cert,chain,fullchain,privkey}.pem       relative symlinks to one version
    live/<name>/README
    renewal/<name>.conf                                  see certkernel.lineages.renewal_conf

An existing Certbot config dir is read as it is. Crash consistency rests on
one ordering rule: the four archive files of a new version are each written
atomically, and only then do the live links move (each link switch is
atomic too); the renewal conf is rewritten last. Loading a lineage checks
cheaply that the four links agree on one complete version, and repairs them
(newest complete, matching version) when a killed process left them split.

Importing this module pulls in neither ``cryptography`` nor ``configobj``:
they load only when a certificate is parsed or a conf is read.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certkernel import crypto, fsutil
from certkernel.errors import CertStorageError, StorageError
from certkernel.lineages import lineage_files, renewal_conf
from certkernel.lineages.cert_validity_der import pem_validity
from certkernel.lineages.lineage_files import ALL_FOUR, FILE_MODES, Layout
from certkernel.names import validate_cert_name
from certkernel.protocol.messages import LineageInfo
from certkernel.version import __version__

if TYPE_CHECKING:
    import datetime

    from certkernel.crypto import CertInfo

logger = logging.getLogger(__name__)

DIR_MODE_TOP = 0o700  # archive/, live/, renewal/ as Certbot makes them
DIR_MODE_LINEAGE = 0o755


@dataclass(frozen=True)
class ConfigDirs:
    """The top-level directories of a config dir."""

    config_dir: str

    @property
    def archive(self) -> str:
        return os.path.join(self.config_dir, "archive")

    @property
    def live(self) -> str:
        return os.path.join(self.config_dir, "live")

    @property
    def renewal(self) -> str:
        return os.path.join(self.config_dir, "renewal")

    def conf_path(self, name: str) -> str:
        return os.path.join(self.renewal, f"{name}.conf")

    def default_links(self, name: str) -> dict[str, str]:
        return {kind: os.path.join(self.live, name, f"{kind}.pem") for kind in ALL_FOUR}


@dataclass
class Lineage:
    """One certificate lineage, loaded from its renewal conf.

    ``version`` is the archive version the live links point at (after any
    repair). Certificate details (names, expiry) are parsed on first use.
    """

    name: str
    config_dir: str
    conf: renewal_conf.RenewalConf
    version: int
    repaired: bool = False
    _info: CertInfo | None = field(default=None, repr=False)
    _validity: tuple[datetime.datetime, datetime.datetime] | None = field(default=None, repr=False)

    # -- paths --------------------------------------------------------------
    @property
    def layout(self) -> Layout:
        return Layout(self.conf.archive_dir, {k: self.conf.link(k) for k in ALL_FOUR})

    @property
    def archive_dir(self) -> str:
        return self.conf.archive_dir

    @property
    def live_dir(self) -> str:
        return os.path.dirname(self.conf.cert)

    @property
    def renewal_conf_path(self) -> str:
        return self.conf.path

    def link_path(self, kind: str) -> str:
        """``live/<name>/<kind>.pem`` (or wherever the conf says it is)."""
        return self.conf.link(kind)

    @property
    def cert_path(self) -> str:
        return self.conf.cert

    @property
    def key_path(self) -> str:
        return self.conf.privkey

    @property
    def chain_path(self) -> str:
        return self.conf.chain

    @property
    def fullchain_path(self) -> str:
        return self.conf.fullchain

    def archive_path(self, kind: str, version: int | None = None) -> str:
        return self.layout.archive_path(kind, self.version if version is None else version)

    # -- versions -----------------------------------------------------------
    def read(self, kind: str, version: int | None = None) -> bytes:
        return self.layout.read(kind, self.version if version is None else version)

    # -- certificate details ------------------------------------------------
    def cert_info(self) -> CertInfo:
        if self._info is None:
            path = self.archive_path("cert")
            self._info = crypto.cert_info(self.read("cert"), source=path)
        return self._info

    @property
    def names(self) -> list[str]:
        return self.cert_info().names

    def validity(self) -> tuple[datetime.datetime, datetime.datetime]:
        """``(not_before, not_after)`` without importing ``cryptography``.

        The renew path calls this for every lineage to find what is due;
        it reads only the current cert file (cached per object).
        """
        if self._validity is None:
            if self._info is not None:
                self._validity = (self._info.not_before, self._info.not_after)
            else:
                fast = pem_validity(self.read("cert"))
                info = self.cert_info() if fast is None else None
                self._validity = fast or (info.not_before, info.not_after)  # type: ignore[union-attr]
        return self._validity

    @property
    def not_after(self) -> datetime.datetime:
        return self.validity()[1]

    @property
    def not_before(self) -> datetime.datetime:
        return self.validity()[0]

    @property
    def key_type(self) -> str:
        """``ecdsa`` or ``rsa``: the saved parameter, else what the cert holds."""
        saved = self.renewalparams.get_str("key_type")
        if saved:
            return saved
        return "rsa" if self.cert_info().key_type.startswith("RSA") else "ecdsa"

    @property
    def renewalparams(self) -> renewal_conf.RenewalParams:
        return self.conf.params

    def to_lineage_info(self) -> Any:
        """The protocol's ``LineageInfo`` (paths and names, never key bytes)."""
        return LineageInfo(
            name=self.name, cert_path=self.cert_path, key_path=self.key_path,
            chain_path=self.chain_path, fullchain_path=self.fullchain_path, domains=list(self.names),
        )

    # -- loading ------------------------------------------------------------
    @classmethod
    def load(cls, config_dir: str, name: str, *, repair: bool = True) -> Lineage:
        return cls.from_conf(config_dir, ConfigDirs(config_dir).conf_path(name), repair=repair)

    @classmethod
    def from_conf(cls, config_dir: str, conf_path: str, *, repair: bool = True) -> Lineage:
        """Load the lineage a renewal conf describes.

        Raises :class:`CertStorageError` naming the file when the conf is
        corrupt or no complete version exists; with ``repair`` a split or
        dangling set of live links is fixed on the way.
        """
        conf = renewal_conf.read(conf_path)
        layout = Layout(conf.archive_dir, {k: conf.link(k) for k in ALL_FOUR})
        version = layout.current_version()
        repaired = False
        if version is None:
            if not repair:
                raise CertStorageError(
                    f"live links of {conf.name} ({os.path.dirname(conf.cert)}) do not point at one "
                    f"complete version in {conf.archive_dir}"
                )
            version = layout.repair()
            repaired = True
        return cls(conf.name, config_dir, conf, version, repaired)

    # -- writing ------------------------------------------------------------
    @classmethod
    def create(
        cls,
        config_dir: str,
        name: str,
        cert: bytes,
        chain: bytes,
        fullchain: bytes,
        key_pem: bytes,
        renewalparams: Mapping[str, Any],
        *,
        renew_before_expiry: str | None = None,
    ) -> Lineage:
        """Make a new lineage; ``name`` collides into ``name-0001`` and so on.

        Order: directories, the four archive files, the live links and
        README, and the renewal conf last, so a lineage that ``lineage_find.scan``
        lists is always complete. Leftovers of a create that was killed
        before writing its conf are reused rather than collided with.
        """

        dirs = ConfigDirs(config_dir)
        for top in (dirs.archive, dirs.live, dirs.renewal):
            fsutil.make_dirs(top, DIR_MODE_TOP)
        name = unique_name(config_dir, name)
        archive_dir = os.path.join(dirs.archive, name)
        links = dirs.default_links(name)
        fsutil.make_dirs(archive_dir, DIR_MODE_LINEAGE)
        fsutil.make_dirs(os.path.join(dirs.live, name), DIR_MODE_LINEAGE)
        layout = Layout(archive_dir, links)
        version = layout.next_free_version()
        _write_version(layout, version, cert, chain, fullchain, key_pem, previous_key=None)
        layout.switch_links(version)
        base_readme = os.path.join(dirs.live, "README")
        if not os.path.exists(base_readme):
            fsutil.atomic_write(base_readme, lineage_files.LIVE_BASE_README, 0o644)
        fsutil.atomic_write(os.path.join(dirs.live, name, "README"), lineage_files.LIVE_README, 0o644)
        conf = renewal_conf.write(
            dirs.conf_path(name), archive_dir, links, renewalparams,
            version=__version__, renew_before_expiry=renew_before_expiry,
        )
        return cls(name, config_dir, conf, version)

    def save_new_version(
        self,
        cert: bytes,
        chain: bytes,
        fullchain: bytes,
        key_pem: bytes | None,
        renewalparams: Mapping[str, Any] | None = None,
        *,
        renew_before_expiry: str | None = None,
    ) -> int:
        """Add version N+1 and make it current; returns N+1.

        ``key_pem=None`` reuses the current key (``--reuse-key``). The new key
        file keeps the previous key's group and group permission bits. With
        ``renewalparams`` the conf's ``[renewalparams]`` is replaced after the
        links switched (a crash before that leaves the old, still valid
        params).
        """
        layout = self.layout
        previous_key = self.archive_path("privkey")
        if key_pem is None:
            key_pem = self.read("privkey")
        version = layout.next_free_version()
        _write_version(layout, version, cert, chain, fullchain, key_pem, previous_key=previous_key)
        layout.switch_links(version)
        self.version = version
        self._info = None
        self._validity = None
        if renewalparams is not None or renew_before_expiry is not None:
            params = self.conf.params.as_dict() if renewalparams is None else renewalparams
            self.conf = renewal_conf.write(
                self.conf.path, self.conf.archive_dir,
                {k: self.conf.link(k) for k in ALL_FOUR}, params,
                version=__version__, renew_before_expiry=renew_before_expiry,
            )
        return version

    def save_renewalparams(self, renewalparams: Mapping[str, Any]) -> None:
        """Rewrite ``[renewalparams]`` only (e.g. options saved back by renew)."""
        self.conf = renewal_conf.write(
            self.conf.path, self.conf.archive_dir,
            {k: self.conf.link(k) for k in ALL_FOUR}, renewalparams, version=__version__,
        )

    def update_symlinks(self) -> int:
        """Recreate the live links from the conf (``certkernel update_symlinks``).

        For users who moved ``archive/`` or the live files and edited the
        conf: links point again, relatively, at the current version in
        ``archive_dir``, or at the newest complete matching one.
        """
        layout = self.layout
        if all(os.path.exists(layout.archive_path(k, self.version)) for k in ALL_FOUR):
            layout.switch_links(self.version)
        else:
            self.version = layout.repair()
        self._info = None
        self._validity = None
        return self.version

    def delete(self) -> None:
        """Remove the renewal conf, then ``live/<name>``, then the archive.

        The conf goes first: once it is gone the lineage is no longer listed
        or renewed, whatever happens to the rest.
        """
        try:
            os.unlink(self.conf.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot delete {self.conf.path}: {exc.strerror}") from exc
        fsutil.fsync_dir(os.path.dirname(self.conf.path))
        live_dir = self.live_dir
        for kind in ALL_FOUR:
            _remove(self.conf.link(kind))
        _remove(os.path.join(live_dir, "README"))
        fsutil.remove_temp_leftovers(live_dir)
        try:
            os.rmdir(live_dir)
        except OSError:
            pass  # the user keeps their own files there; leave them
        other = self.archive_shared_with()
        if other is not None:
            logger.warning(
                "Not deleting %s: the lineage of %s still uses it", self.archive_dir, other)
            return
        shutil.rmtree(self.archive_dir, ignore_errors=True)

    def archive_shared_with(self) -> str | None:
        """Another renewal conf whose archive, or one of whose live links, is this archive.

        Certbot deletes the archive unconditionally; a hand-made or
        migrated setup where two confs share one archive folder (or link
        into it) would lose the other lineage's certificates and key.
        """

        mine = _identity(self.archive_dir)
        if mine is None:
            return None
        for path in conf_paths(self.config_dir):
            if os.path.abspath(path) == os.path.abspath(self.conf.path):
                continue
            try:
                conf = renewal_conf.read(path)
            except StorageError:
                continue  # unreadable: its archive is unknown, nothing to compare
            folders = [conf.archive_dir]
            folders += [os.path.dirname(os.path.realpath(conf.link(k))) for k in ALL_FOUR]
            if any(_identity(folder) == mine for folder in folders):
                return path
        return None


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a directory, or None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _write_version(
    layout: Layout,
    version: int,
    cert: bytes,
    chain: bytes,
    fullchain: bytes,
    key_pem: bytes,
    *,
    previous_key: str | None,
) -> None:
    """Write the four archive files of one version, the key first, each atomically."""
    key_mode = fsutil.compute_private_key_mode(previous_key, FILE_MODES["privkey"])
    fsutil.atomic_write(
        layout.archive_path("privkey", version), key_pem, key_mode, copy_group_from=previous_key
    )
    for kind, data in (("cert", cert), ("chain", chain), ("fullchain", fullchain)):
        fsutil.atomic_write(layout.archive_path(kind, version), data, FILE_MODES[kind])


MAX_COLLISIONS = 9999


def conf_paths(config_dir: str) -> list[str]:
    """``renewal/*.conf`` in byte order (temp files of interrupted writes skipped)."""
    renewal = os.path.join(config_dir, "renewal")
    try:
        names = sorted(os.listdir(renewal))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError(f"cannot list {renewal}: {exc.strerror}") from exc
    return [os.path.join(renewal, n) for n in names if n.endswith(".conf") and not n.startswith(".")]


def _has_conf(config_dir: str, name: str) -> bool:
    return os.path.lexists(os.path.join(config_dir, "renewal", f"{name}.conf"))


def unique_name(config_dir: str, name: str) -> str:
    """``name`` if no lineage uses it, else ``name-0001``, ``name-0002``...

    A name is taken when its renewal conf exists. Archive and live
    directories without a conf are what a create killed before its last
    step leaves; they are reused (nothing in them is overwritten: new
    archive files take the next free version number).
    """
    validate_cert_name(name)
    if not _has_conf(config_dir, name):
        return name
    for n in range(1, MAX_COLLISIONS + 1):
        candidate = f"{name}-{n:04d}"
        if not _has_conf(config_dir, candidate):
            return candidate
    raise StorageError(f"too many lineages named {name}-NNNN in {config_dir}/renewal")
