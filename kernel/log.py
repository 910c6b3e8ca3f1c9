"""Logging: ``--logs-dir/letsencrypt.log`` with rotation, -v/-q levels, redaction.

Like Certbot, each run starts a fresh ``letsencrypt.log`` and shifts the
previous ones to ``.1``, ``.2`` … (at most ``--max-log-backups``; 0 means
append to one file forever).  The file always gets DEBUG; the terminal gets
INFO by default, DEBUG with -v, everything with -vv, errors only with -q.

A :class:`SecretFilter` sits on every handler we install, so no record —
ours or a library's — reaches a file or terminal with a PEM private key, the
EAB HMAC key or a value registered as secret at run time (credential file
contents read for DNS plugins, credentials a plugin takes from the
environment). It also strips escape sequences and control characters
(:mod:`certkernel.terminal_text`): a record may quote text a plugin chose (a
path, an error), and the log is read on a terminal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from certkernel.errors import ConfigurationError
from certkernel.fleet.store_url import url_passwords
from certkernel.terminal_text import clean

if TYPE_CHECKING:
    from certkernel.config import Config

LOG_NAME = "letsencrypt.log"
REDACTED = "***"
_PEM_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)
_FILE_FORMAT = "%(asctime)s:%(levelname)s:%(name)s:%(message)s"


class SecretFilter(logging.Filter):
    """Replaces secrets in a record's message, traceback and stack text.

    The message is formatted here (``msg % args``) so a secret passed as an
    argument is caught too; ``args`` are then dropped.
    """

    def __init__(self, secrets: set[str] | None = None) -> None:
        super().__init__()
        self.secrets: set[str] = set(secrets or ())

    def add(self, value: str) -> None:
        """Never let ``value`` appear in the logs (short values are ignored
        because redacting "1" or "a" would shred every line)."""
        if value and len(value) >= 4:
            self.secrets.add(value)

    def redact(self, text: str) -> str:
        if "PRIVATE KEY-----" in text:
            text = _PEM_KEY.sub("-----BEGIN PRIVATE KEY----- " + REDACTED, text)
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = clean(self.redact(message))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = clean(self.redact(record.exc_text))
        if record.stack_info:
            record.stack_info = clean(self.redact(record.stack_info))
        return True


def console_level(verbose_count: int, quiet: bool) -> int:
    """Terminal level: INFO, DEBUG with -v, everything with -vv, ERROR with -q."""
    if quiet:
        return logging.ERROR
    if verbose_count <= 0:
        return logging.INFO
    return logging.DEBUG if verbose_count == 1 else 1


@dataclass
class LogSetup:
    """The handlers installed for one run, so they can be removed again."""

    path: str | None
    secret_filter: SecretFilter
    handlers: list[logging.Handler] = field(default_factory=list)

    def register_secret(self, value: str) -> None:
        self.secret_filter.add(value)

    def close(self) -> None:
        root = logging.getLogger()
        for handler in self.handlers:
            root.removeHandler(handler)
            handler.close()


def _store_url_secrets(url: str | None) -> list[str]:
    """A password someone put in the ``--store`` URL anyway (it is refused, but the
    command line is logged before that)."""
    if not url:
        return []
    return url_passwords(url)


def register_secret(value: str) -> None:
    """Mark ``value`` as secret on every handler installed by :func:`setup_logging`."""
    for handler in logging.getLogger().handlers:
        for flt in handler.filters:
            if isinstance(flt, SecretFilter):
                flt.add(value)


def _rotate(path: str, backups: int) -> None:
    """Shift letsencrypt.log -> .1 -> .2 …, dropping the oldest beyond ``backups``.

    Runs from cron may start at the same instant and rotate together: a file
    another run has just moved is not an error (each step tolerates it), and
    both runs then append to the one fresh log.
    """
    if backups <= 0 or not os.path.exists(path):
        return
    with contextlib.suppress(FileNotFoundError):
        os.remove(f"{path}.{backups}")
    for n in range(backups - 1, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}.{n}", f"{path}.{n + 1}")
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, f"{path}.1")


def open_log_file(logs_dir: str, max_backups: int) -> tuple[str, logging.Handler]:
    """Create the logs dir (0700) and a fresh log file (0600) after rotation."""
    try:
        os.makedirs(logs_dir, mode=0o700, exist_ok=True)
        path = os.path.join(logs_dir, LOG_NAME)
        _rotate(path, max_backups)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the log in {logs_dir}: {exc.strerror} (use --logs-dir to choose another folder)"
        ) from None
    return path, handler


def setup_logging(
    config: Config, stream: IO[str] | None = None, log_to_file: bool = True
) -> LogSetup:
    """Install the file and terminal handlers for one run of ``config``."""
    secret_filter = SecretFilter()
    for value in (config.eab_hmac_key, *_store_url_secrets(config.store)):
        if value:
            secret_filter.add(value)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    setup = LogSetup(path=None, secret_filter=secret_filter)
    if log_to_file:
        path, file_handler = open_log_file(config.logs_dir, config.max_log_backups)
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(logging.Formatter(_FILE_FORMAT))
        file_handler.addFilter(secret_filter)
        root.addHandler(file_handler)
        setup.path = path
        setup.handlers.append(file_handler)
    console = logging.StreamHandler(stream or sys.stderr)
    level = console_level(config.verbose_count, config.quiet)
    console.setLevel(level)
    console.setFormatter(
        logging.Formatter("%(message)s" if level >= logging.INFO else "%(levelname)s:%(name)s:%(message)s")
    )
    console.addFilter(secret_filter)
    root.addHandler(console)
    setup.handlers.append(console)
    logging.getLogger("certkernel").debug("certkernel run: verb=%s, log=%s", config.verb, setup.path)
    return setup
