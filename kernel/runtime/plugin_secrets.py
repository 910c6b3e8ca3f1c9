"""The values of a plugin's credential files, read and checked by the kernel.

Plugins run as an unprivileged account, which cannot (and must not) read
root's 0600 credential files, so the kernel reads them, warns about loose
permissions, and registers every secret with the log filter before the
values travel to the plugin in ``initialize``.
"""

from __future__ import annotations

import logging
import os
import stat
from typing import Any

from certkernel import errors
from certkernel.log import register_secret
from certkernel.plugin_host.manifest import Manifest

logger = logging.getLogger(__name__)


def read_credentials(path: str, flag: str) -> dict[str, str]:
    """Read a Certbot-style credentials INI (``key = value`` lines).

    The file must exist and be a regular file; group or world access gets a
    warning (Certbot's advice: chmod 600), as the values are secrets.
    """
    text = read_secret_text(path, flag)
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")) or line.startswith("["):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise errors.ConfigurationError(
                f"{flag}: {path} line {number} is not 'key = value'"
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


_MAX_SECRET_FILE = 1024 * 1024


def read_secret_text(path: str, flag: str) -> str:
    """The whole text of a credentials file, checked as :func:`read_credentials` says.

    Why the kernel reads it: plugins run as an unprivileged account, which
    cannot (and must not) read root's 0600 credential files.
    """
    # Opened once and checked through that descriptor (no stat-then-open race);
    # O_NONBLOCK so that a FIFO put in its place cannot hang the run.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise errors.ConfigurationError(
            f"{flag}: credentials file {path} does not exist"
        ) from None
    except OSError as exc:
        raise errors.ConfigurationError(f"{flag}: cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise errors.ConfigurationError(f"{flag}: {path} is not a regular file")
        if st.st_mode & 0o077:
            logger.warning(
                "Unsafe permissions on credentials file %s (mode %o): others can read it. "
                "Run: chmod 600 %s",
                path, stat.S_IMODE(st.st_mode), path,
            )
        try:
            raw = fh.read(_MAX_SECRET_FILE + 1)
        except OSError as exc:
            raise errors.ConfigurationError(f"{flag}: cannot read {path}: {exc}") from None
    if len(raw) > _MAX_SECRET_FILE:
        raise errors.ConfigurationError(f"{flag}: {path} is larger than 1 MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.ConfigurationError(f"{flag}: cannot read {path}: {exc}") from None


_SECRET_WORDS = ("secret", "token", "password", "passwd", "key", "credential")


def is_secret_key(key: str) -> bool:
    """Whether a credentials-file key holds a secret (not a server, port or key name).

    Only those values are redacted from logs, so a log still shows which
    server and which TSIG key name a run used.
    """
    low = key.lower()
    if low.endswith(("_name", "_server", "_port", "_algorithm", "_email", "_url", "_endpoint")):
        return False
    return any(word in low for word in _SECRET_WORDS)


def read_secrets(manifest: Manifest, options: dict[str, Any]) -> dict[str, str]:
    """The values of a plugin's credential files (its ``secret-file`` options).

    Every secret value is registered with the log filter first, so it can
    never reach a log line.
    """
    secrets: dict[str, str] = {}
    for opt in manifest.options:
        path = options.get(opt.name) if opt.type in ("secret-file", "secret-text") else None
        if not path:
            continue
        if opt.type == "secret-text":
            text = read_secret_text(os.path.expanduser(str(path)), opt.flag)
            _register_text(text)
            secrets[opt.dest] = text
            continue
        values = read_credentials(os.path.expanduser(str(path)), opt.flag)
        for key, value in values.items():
            if is_secret_key(key) and len(value) >= 4:
                register_secret(value)
        secrets.update(values)
    return secrets


def _register_text(text: str) -> None:
    """Keep a whole-file secret out of logs: the text, and a JSON file's secret values."""
    import json

    if len(text.strip()) >= 4:
        register_secret(text)
    try:
        data = json.loads(text)
    except ValueError:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str) and is_secret_key(str(key)) and len(value) >= 4:
                register_secret(value)
                for line in value.splitlines():
                    if len(line) >= 16:
                        register_secret(line)
