"""Private keys in the fleet store, sealed with a key that never leaves the hosts.

Why: the database is shared infrastructure (backups, replicas, a DBA), and a
certificate's private key must not be readable by someone who holds only
the database. Every private key is sealed with AES-256-GCM under the key in
``--store-key-file`` (the same file on every host of the fleet, 0600, never
in the store). The associated data binds each sealed key to its place
(lineage name and version, or account), so a writer who can change rows
cannot move one lineage's key into another lineage or version undetected.

Sealed form: ``b"ck1" | key id (8 bytes) | nonce (12 bytes) | ciphertext+tag``.
The key id (a hash of the store key) lets a host with the wrong key file say
so in one line instead of reporting a corrupt row.

The key file holds 32 random bytes, base64-encoded on one line
(``head -c 32 /dev/urandom | base64 > store.key``; :func:`new_key_text`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field

from certkernel.errors import ConfigurationError, StorageError
from certkernel.log import register_secret
from certkernel.runtime.plugin_secrets import read_secret_text

MAGIC = b"ck1"
KEY_BYTES = 32
NONCE_BYTES = 12
ID_BYTES = 8
FLAG = "--store-key-file"


def new_key_text() -> str:
    """A fresh store key in the file format (base64 of 32 random bytes, newline)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii") + "\n"


@dataclass(frozen=True)
class StoreKey:
    """The fleet's sealing key. ``repr`` never shows it."""

    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(b"certkernel store key id\0" + self.secret).digest()[:ID_BYTES]

    def seal(self, plaintext: bytes, place: str) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(NONCE_BYTES)
        return MAGIC + self.key_id + nonce + AESGCM(self.secret).encrypt(
            nonce, plaintext, _aad(place))

    def open(self, sealed: bytes, place: str) -> bytes:
        """The plaintext sealed for ``place``; one-line ``StorageError`` otherwise."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        head = len(MAGIC) + ID_BYTES + NONCE_BYTES
        if len(sealed) <= head or not sealed.startswith(MAGIC):
            raise StorageError(f"the private key of {place} in the fleet store is not sealed "
                               "by certkernel (corrupt row)")
        key_id = sealed[len(MAGIC):len(MAGIC) + ID_BYTES]
        if key_id != self.key_id:
            raise StorageError(
                f"the private key of {place} was sealed with another store key "
                f"(id {key_id.hex()}, this host's {FLAG} has id {self.key_id.hex()}): "
                f"give every host of the fleet the same {FLAG}")
        nonce = sealed[len(MAGIC) + ID_BYTES:head]
        try:
            return AESGCM(self.secret).decrypt(nonce, sealed[head:], _aad(place))
        except InvalidTag:
            raise StorageError(
                f"the private key of {place} in the fleet store does not open with this "
                "store key: the row was altered or moved from another lineage") from None


def _aad(place: str) -> bytes:
    return b"certkernel fleet private key\0" + place.encode("utf-8")


def lineage_place(name: str, version: int) -> str:
    return f"lineage {name} version {version}"


def account_place(server: str, account_id: str) -> str:
    return f"account {account_id} at {server}"


def load(path: str) -> StoreKey:
    """Read ``--store-key-file`` (checked and redacted like other credential files)."""
    text = read_secret_text(os.path.expanduser(path), FLAG).strip()
    register_secret(text)
    try:
        secret = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) != KEY_BYTES:
        raise ConfigurationError(
            f"{FLAG}: {path} must hold {KEY_BYTES} random bytes in base64 on one line; "
            "make one with: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE")
    return StoreKey(secret)
