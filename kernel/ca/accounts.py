"""ACME accounts on disk, in exactly Certbot's layout, so existing dirs just work.

Layout (Certbot's ``AccountFileStorage``)::

    <config_dir>/accounts/<netloc><path>/<account id>/
        meta.json         {"creation_dt": "...Z", "creation_host": "...", ["register_to_eff"]}
        private_key.json  the account key as a private JWK, mode 0400
        regr.json         {"body": {}, "uri": "<account URL>"}

The id is the md5 hex digest of the public key as PEM SubjectPublicKeyInfo,
as Certbot computes it, so ids match between the two programs. Older Certbot
versions stored a full ``body`` and ``new_authzr_uri`` in regr.json; we read
those and write the current, minimal form.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from certkernel import errors, fsutil

if TYPE_CHECKING:
    from josepy.jwk import JWK

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountMeta:
    """Where and when the account was made (Certbot shows it as the account slug)."""

    creation_dt: str
    creation_host: str
    register_to_eff: str | None = None

    @classmethod
    def now(cls, register_to_eff: str | None = None) -> AccountMeta:
        stamp = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        return cls(creation_dt=stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   creation_host=socket.getfqdn(), register_to_eff=register_to_eff)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"creation_dt": self.creation_dt,
                                "creation_host": self.creation_host}
        if self.register_to_eff is not None:
            data["register_to_eff"] = self.register_to_eff
        return data


@dataclass(frozen=True)
class Account:
    """An account key plus what we know of its registration; the key never prints."""

    key: JWK = field(repr=False)
    uri: str
    meta: AccountMeta

    @property
    def id(self) -> str:
        return account_id(self.key)

    @property
    def slug(self) -> str:
        """Certbot's short label: ``<creation_dt>@<host> (<id[:4]>)``."""
        return f"{self.meta.creation_dt}@{self.meta.creation_host} ({self.id[:4]})"


def account_id(key: JWK) -> str:
    """Certbot's account id: md5 of the PEM SubjectPublicKeyInfo of the public key."""
    from cryptography.hazmat.primitives import serialization

    pem: bytes = key.key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.md5(pem, usedforsecurity=False).hexdigest()


def new_account_key(key_type: str = "rsa", rsa_key_size: int = 2048,
                    curve: str = "secp256r1") -> JWK:
    """A fresh account key (Certbot's default: RSA 2048)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from josepy.jwk import JWKEC, JWKRSA

    if key_type == "rsa":
        return JWKRSA(key=rsa.generate_private_key(65537, rsa_key_size))
    curves: dict[str, Callable[[], ec.EllipticCurve]] = {
        "secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1, "secp521r1": ec.SECP521R1}
    if key_type != "ecdsa" or curve not in curves:
        raise errors.ValidationError(f"unsupported account key {key_type}/{curve}")
    return JWKEC(key=ec.generate_private_key(curves[curve]()))


def server_path(server: str) -> str:
    """``https://acme-v02.api.letsencrypt.org/directory`` -> ``acme-v02...org/directory``."""
    parsed = urlparse(server)
    if not parsed.netloc:
        raise errors.ValidationError(f"--server {server!r} is not an URL")
    return (parsed.netloc + parsed.path).replace("/", os.path.sep)


class AccountStore:
    """The accounts of one ACME server under one config dir."""

    def __init__(self, config_dir: str | Path, server: str) -> None:
        self.server = server
        self.root = Path(config_dir) / "accounts" / server_path(server)

    def _dir(self, acc_id: str) -> Path:
        if not acc_id or "/" in acc_id or acc_id in (".", ".."):
            raise errors.ValidationError(f"invalid account id {acc_id!r}")
        return self.root / acc_id

    def ids(self) -> list[str]:
        try:
            return sorted(p.name for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []

    def list(self) -> list[Account]:
        """All loadable accounts; broken ones are logged and skipped (as Certbot does)."""
        found = []
        for acc_id in self.ids():
            try:
                found.append(self.load(acc_id))
            except errors.StorageError as exc:
                logger.warning("Skipping account %s: %s", acc_id, exc)
        return found

    def load(self, acc_id: str) -> Account:
        from josepy.errors import DeserializationError
        from josepy.jwk import JWK

        directory = self._dir(acc_id)
        if not directory.is_dir():
            raise errors.AccountNotFound(f"no account {acc_id} under {self.root}")
        try:
            regr = json.loads((directory / "regr.json").read_text())
            key = JWK.json_loads((directory / "private_key.json").read_text())
            meta_raw = json.loads((directory / "meta.json").read_text())
            meta = AccountMeta(creation_dt=str(meta_raw["creation_dt"]),
                               creation_host=str(meta_raw["creation_host"]),
                               register_to_eff=meta_raw.get("register_to_eff"))
            uri = str(regr["uri"])
        except (OSError, ValueError, KeyError, TypeError, DeserializationError) as exc:
            raise errors.StorageError(
                f"account {acc_id} in {directory} is unreadable: {type(exc).__name__}: {exc}"
            ) from None
        if not hasattr(key.key, "private_bytes"):
            raise errors.StorageError(f"{directory / 'private_key.json'} holds no private key")
        account = Account(key=key, uri=uri, meta=meta)
        if account.id != acc_id:
            logger.warning("Account dir %s holds key with id %s", directory, account.id)
        return account

    def save(self, account: Account) -> Path:
        """Write all three files atomically; the key file is 0400 as Certbot makes it."""
        directory = self._dir(account.id)
        fsutil.make_dirs(str(directory), 0o700)
        key_path = directory / "private_key.json"
        if key_path.exists():
            os.chmod(key_path, 0o600)  # atomic_write replaces it; the old one may be 0400
        fsutil.atomic_write(str(key_path), account.key.json_dumps(), 0o400)
        fsutil.atomic_write(str(directory / "meta.json"),
                            json.dumps(account.meta.to_json()), 0o644)
        self.save_regr(account)
        return directory

    def save_regr(self, account: Account) -> None:
        regr = {"body": {}, "uri": account.uri}
        fsutil.atomic_write(str(self._dir(account.id) / "regr.json"), json.dumps(regr), 0o644)

    def delete(self, acc_id: str) -> None:
        directory = self._dir(acc_id)
        if not directory.is_dir():
            raise errors.AccountNotFound(f"no account {acc_id} under {self.root}")
        shutil.rmtree(directory)
        try:
            self.root.rmdir()  # Certbot also removes the server dir once it is empty
        except OSError:
            pass
