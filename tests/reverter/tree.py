"""A small tree of real configuration files and an exact snapshot of it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

# What a user compares after a rollback: every file's bytes and mode, and
# which files exist at all.
Snapshot = dict[str, tuple[bytes, int]]

BINARY = bytes(range(256)) * 3 + b"\x00\xff\xfe not utf-8 \x80\n"


def make_tree(root: Path) -> dict[str, Path]:
    """Files in several directories: text, binary, a secret 0600 file, a script, spaces."""
    files = {
        "main": root / "etc" / "nginx" / "nginx.conf",
        "site": root / "etc" / "nginx" / "sites-available" / "example com.conf",
        "binary": root / "var" / "lib" / "blob.bin",
        "secret": root / "etc" / "ssl" / "private" / "key.pem",
        "script": root / "usr" / "local" / "bin" / "reload hook.sh",
    }
    contents = {
        "main": b"user www-data;\nhttp {\n    include sites-enabled/*;\n}\n",
        "site": b"server {\n    listen 80;\n    server_name example.com;  # {braces}\n}\n",
        "binary": BINARY,
        "secret": b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
        "script": b"#!/bin/sh\nexec nginx -s reload\n",
    }
    modes = {"main": 0o644, "site": 0o640, "binary": 0o444, "secret": 0o600, "script": 0o755}
    for key, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(contents[key])
        os.chmod(path, modes[key])
    return files


def snapshot(root: Path, skip: str | None = None) -> Snapshot:
    """Bytes and mode of every regular file under ``root`` (``skip``: a subfolder name)."""
    result: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip is not None and skip in dirnames:
            dirnames.remove(skip)
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                result[os.path.relpath(path, root)] = (Path(path).read_bytes(), stat.S_IMODE(st.st_mode))
    return result


def change_all(files: dict[str, Path], tag: str) -> None:
    """Rewrite every file (bytes and mode), as an installer's edits would."""
    for path in files.values():
        os.chmod(path, 0o644)
        path.write_bytes(path.read_bytes() + f"\n# changed by {tag}\n".encode())
        os.chmod(path, 0o664)
