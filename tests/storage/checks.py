"""What a user checks on an issued set, as one reusable assertion."""

from __future__ import annotations

import os
import stat

from certkernel import crypto
from certkernel.lineages.storage import Lineage

ALL_FOUR = ("cert", "chain", "fullchain", "privkey")


def assert_live_set_ok(config_dir: str, name: str, version: int | None = None) -> int:
    """live/<name> links are relative, agree on one version, and that set matches.

    Returns the version they point at.
    """
    live = os.path.join(config_dir, "live", name)
    versions = set()
    for kind in ALL_FOUR:
        link = os.path.join(live, f"{kind}.pem")
        assert os.path.islink(link), f"{link} is not a symlink"
        target = os.readlink(link)
        assert not os.path.isabs(target), f"{link} -> {target} is absolute"
        assert target.startswith(f"../../archive/{name}/{kind}"), target
        versions.add(int(os.path.basename(target)[len(kind):-len(".pem")]))
    assert len(versions) == 1, f"links disagree: {versions}"
    (got,) = versions

    def read(kind: str) -> bytes:
        with open(os.path.join(live, f"{kind}.pem"), "rb") as handle:
            return handle.read()

    cert, chain, fullchain, key = (read(k) for k in ALL_FOUR)
    assert fullchain == cert + chain
    assert crypto.key_matches_cert(key, cert)
    key_mode = stat.S_IMODE(os.stat(os.path.join(live, "privkey.pem")).st_mode)
    assert key_mode & 0o077 & ~0o070 == 0, oct(key_mode)
    if version is not None:
        assert got == version
    return got


def reload(config_dir: str, name: str) -> Lineage:
    return Lineage.load(config_dir, name)
