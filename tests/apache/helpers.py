"""Test helpers for the Apache plugin: a stand-in for the kernel's checkpoints, certificates.

``FileCheckpoints`` does what the kernel's checkpoint service does for a
plugin (copy the bytes of files about to change, remember files about to be
created, put everything back on rollback), so library-level tests can check
that the plugin registers every file before writing it. Process-level tests
use the kernel's real service through the SDK.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class FileCheckpoints:
    """Backups of registered files, like the kernel keeps them.

    Speaks both dialects: the SDK's ``checkpoint_*`` names (library tests hand
    this object to the installer as ``self.kernel`` would be) and the plugin
    host's ``Checkpoints`` protocol (process tests plug it into
    ``KernelServices``). Temporary changes are kept apart, finalized ones
    stack up, and restoring writes back the exact bytes.
    """

    saved: dict[str, bytes] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    temp_saved: dict[str, bytes] = field(default_factory=dict)
    temp_created: list[str] = field(default_factory=list)
    finalized: list[tuple[str, dict[str, bytes], list[str]]] = field(default_factory=list)
    log: list[tuple[str, str, bool]] = field(default_factory=list)

    def add(self, files: list[str], temporary: bool = False, *,
            roots: Sequence[str] = (), installer: object = None) -> None:
        target = self.temp_saved if temporary else self.saved
        for f in files:
            assert os.path.isfile(f), f"registered {f} that does not exist"
            target.setdefault(f, Path(f).read_bytes())
            self.log.append(("add", f, temporary))

    def register_new(self, files: list[str], temporary: bool = False, *,
                     roots: Sequence[str] = (), installer: object = None) -> None:
        target = self.temp_created if temporary else self.created
        for f in files:
            assert not os.path.lexists(f), f"registered {f} as new but it exists"
            target.append(f)
            self.log.append(("new", f, temporary))

    checkpoint_add = add
    checkpoint_register_new = register_new

    def finalize(self, title: str) -> None:
        self.finalized.append((title, dict(self.saved), list(self.created)))
        self.saved.clear()
        self.created.clear()

    def revert_temporary(self) -> None:
        _restore(self.temp_saved, self.temp_created)
        self.temp_saved.clear()
        self.temp_created.clear()

    def rollback(self, count: int | None = None) -> None:
        """Undo the unfinalized changes, then ``count`` finalized checkpoints."""
        _restore(self.saved, self.created)
        self.saved.clear()
        self.created.clear()
        for _ in range(len(self.finalized) if count is None else count):
            _title, saved, created = self.finalized.pop()
            _restore(saved, created)


def _restore(saved: dict[str, bytes], created: list[str]) -> None:
    for f in created:
        if os.path.lexists(f):
            os.unlink(f)
    for f, data in saved.items():
        Path(f).write_bytes(data)


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file's bytes and every link's target under ``root``."""
    out: dict[str, bytes | str] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[str(p)] = "-> " + os.readlink(p) if p.is_symlink() else p.read_bytes()
        for name in _dirs:
            p = Path(dirpath) / name
            if p.is_symlink():
                out[str(p)] = "-> " + os.readlink(p)
    return out


def make_cert(folder: Path, names: list[str], tag: str = "a") -> dict[str, str]:
    """A self-signed ECDSA cert for ``names``: paths like a lineage's live/ files."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{names[0]} {tag}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    paths = {
        "cert_path": folder / f"cert-{tag}.pem",
        "chain_path": folder / f"chain-{tag}.pem",
        "fullchain_path": folder / f"fullchain-{tag}.pem",
        "key_path": folder / f"privkey-{tag}.pem",
    }
    paths["cert_path"].write_bytes(pem)
    paths["chain_path"].write_bytes(pem)
    paths["fullchain_path"].write_bytes(pem)
    paths["key_path"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths["key_path"].chmod(0o600)
    out = {k: str(v) for k, v in paths.items()}
    out["der"] = cert.public_bytes(serialization.Encoding.DER).hex()
    return out
