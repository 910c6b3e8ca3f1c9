"""The on-disk shape of one lineage: archive versions and live links.

Kept apart from :mod:`certkernel.lineages.storage` so the consistency rules (which
version is complete, which one the live links point at, how to repair a set
left half-switched by a killed process) are readable on their own. Only the
standard library at import time; the deep check (key matches cert) imports
:mod:`certkernel.crypto` when it is needed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from certkernel import crypto, fsutil
from certkernel.errors import CertStorageError

ALL_FOUR = ("cert", "privkey", "chain", "fullchain")
# Switch the key and the cert next to each other so a server reading live/
# during a switch sees a mismatched pair for as short a time as possible.
SWITCH_ORDER = ("chain", "privkey", "cert", "fullchain")
_VERSIONED = re.compile(r"^(cert|privkey|chain|fullchain)(\d+)\.pem$")

FILE_MODES = {"cert": 0o644, "chain": 0o644, "fullchain": 0o644, "privkey": 0o600}


@dataclass(frozen=True)
class Layout:
    """Where one lineage's files are: the archive dir and the four live links."""

    archive_dir: str
    links: dict[str, str]

    def archive_path(self, kind: str, version: int) -> str:
        return os.path.join(self.archive_dir, f"{kind}{version}.pem")

    def versions_on_disk(self) -> dict[int, set[str]]:
        """Version number -> the kinds present for it in the archive."""
        found: dict[int, set[str]] = {}
        for name in fsutil.iter_files(self.archive_dir):
            match = _VERSIONED.match(name)
            if match:
                found.setdefault(int(match.group(2)), set()).add(match.group(1))
        return found

    def complete_versions(self) -> list[int]:
        """Versions with all four archive files, oldest first."""
        return sorted(v for v, kinds in self.versions_on_disk().items() if kinds >= set(ALL_FOUR))

    def next_free_version(self) -> int:
        """One past every version any file uses, so nothing is overwritten."""
        return max(self.versions_on_disk(), default=0) + 1

    def link_version(self, kind: str) -> int | None:
        """The archive version one live link points at, or None if it does not
        point at a ``<kind>N.pem`` inside this lineage's archive dir."""
        link = self.links[kind]
        try:
            value = os.readlink(link)  # one syscall: this runs for every lineage on renew
        except OSError:
            return None
        directory, base = os.path.split(value)
        match = _VERSIONED.match(base)
        if not match or match.group(1) != kind:
            return None
        if not os.path.isabs(directory):
            directory = os.path.join(os.path.dirname(link), directory)
        if os.path.normpath(directory) != os.path.normpath(self.archive_dir):
            return None
        return int(match.group(2))

    def current_version(self) -> int | None:
        """The version all four live links agree on and whose files exist, else None.

        This is the cheap check (readlink + stat) run on every load; it is
        enough because archive files are only ever written whole, all four
        before any link moves.
        """
        versions = {self.link_version(kind) for kind in ALL_FOUR}
        if len(versions) != 1:
            return None
        version = versions.pop()
        if version is None:
            return None
        if all(os.path.exists(self.archive_path(kind, version)) for kind in ALL_FOUR):
            return version
        return None

    def read(self, kind: str, version: int) -> bytes:
        path = self.archive_path(kind, version)
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise CertStorageError(f"cannot read {path}: {exc.strerror}") from exc

    def version_matches(self, version: int) -> bool:
        """Deep check of one archive version: the key is the cert's and
        fullchain is exactly cert followed by chain."""
        try:
            cert, chain, fullchain, key = (self.read(k, version) for k in ("cert", "chain", "fullchain", "privkey"))
        except CertStorageError:
            return False
        if _norm(fullchain) != _norm(cert) + _norm(chain):
            return False
        return crypto.key_matches_cert(key, cert)

    def switch_links(self, version: int) -> None:
        """Point the four live links at ``version`` (each switch atomic)."""
        for kind in SWITCH_ORDER:
            fsutil.switch_symlink(self.links[kind], self.archive_path(kind, version))

    def repair(self) -> int:
        """Make the live links point at one complete, matching version.

        Used when :meth:`current_version` says the links disagree, dangle or
        point at a missing file (a process killed mid-switch, a hand edit).
        The newest complete version whose key matches its cert and whose
        fullchain is cert + chain wins. Returns that version.
        """
        for version in reversed(self.complete_versions()):
            if self.version_matches(version):
                self.switch_links(version)
                return version
        raise CertStorageError(
            f"no complete certificate version in {self.archive_dir} "
            "(expected cert, chain, fullchain and privkey N.pem that match)"
        )


def _norm(pem: bytes) -> bytes:
    """PEM text with unified newlines and exactly one trailing newline."""
    text = pem.replace(b"\r\n", b"\n").strip(b"\n")
    return text + b"\n" if text else b""


LIVE_README = """\
This directory contains your keys and certificates.

`privkey.pem`  : the private key for your certificate.
`fullchain.pem`: the certificate file used in most server software.
`chain.pem`    : used for OCSP stapling in Nginx >=1.3.7.
`cert.pem`     : will break many server configurations, and should not be used
                 without reading further documentation (see link below).

WARNING: DO NOT MOVE OR RENAME THESE FILES!
         certkernel (like Certbot) expects these files to remain in this
         location in order to function properly!

Point your server configuration at these files, or at symlinks to them:
the files here are symlinks that move to each renewed certificate.
"""

LIVE_BASE_README = """\
This directory contains your keys and certificates, one directory per
certificate lineage. Each holds the current cert.pem, chain.pem,
fullchain.pem and privkey.pem as symlinks into ../../archive/<name>/.
Do not move or rename them; see the README inside each lineage directory.
"""
