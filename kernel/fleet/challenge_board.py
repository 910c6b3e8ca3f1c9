"""The single-host http-01 challenge board: key authorizations in files under ``--work-dir``.

``certkernel responder`` answers ``/.well-known/acme-challenge/<token>``
from a board (``certkernel.interfaces.ChallengeBoard``); an authenticator
that declares ``[needs] challenge_board`` fills it through the kernel. This board is one directory,
``<work-dir>/http01-board``, that only the kernel's user may write: one
file per token, named by the token, holding the key authorization.

Why so careful with a directory the kernel owns: the responder reads it for
anyone on the network, often as root before it drops its privileges, and a
token is text a CA (or a plugin) chose. So a name is used only after it
matched ACME's base64url alphabet (no ``/``, no ``.``, hence no ``..`` and
no temporary name can ever be looked up), every file is opened beneath the
directory's descriptor without following a symlink (``certkernel.beneath``),
and what is read must be a small regular file with one link whose content
has the shape of a key authorization for that very token. A symlink, a
hard link or a FIFO planted there serves nothing.

Only the standard library is imported: the responder starts quickly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from certkernel import errors, fsutil
from certkernel.beneath import open_beneath
from certkernel.fleet.board import PgBoard
from certkernel.fleet.challenge_shape import (
    MAX_KEY_AUTHORIZATION,
    check_challenge,
    valid_key_authorization,
    valid_token,
)
from certkernel.fleet.store_open import open_database

if TYPE_CHECKING:
    from certkernel.config import Config
    from certkernel.interfaces import ChallengeBoard

BOARD_DIR = "http01-board"
_TMP_PREFIX = ".tmp-"  # '.' is outside the alphabet: a temporary name is never a token
"""The board's folder under ``--work-dir``."""

class LocalBoard:
    """Key authorizations as files in one directory this host's kernel owns.

    Configure, then use: the constructor touches nothing; the first call
    (or :meth:`open`) creates the directory if needed (mode 0755: key
    authorizations are public by nature, the CA fetches them over plain
    HTTP) and keeps a descriptor on it for the object's life, so a
    responder that opened the board before dropping its privileges keeps
    reading it afterwards. Safe for concurrent use by threads and processes;
    see ``certkernel.interfaces.ChallengeBoard`` for the full contract.
    """

    def __init__(self, directory: str) -> None:
        self.directory = os.path.abspath(directory)
        self._fd: int | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        """Create (if missing) and open the directory now; refuse one others may write.

        Raises ``StorageError`` naming the directory and what to do.
        """
        with self._lock:
            if self._fd is None:
                self._fd = self._open_dir()

    def _open_dir(self) -> int:
        fsutil.make_dirs(self.directory, 0o755)
        try:
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                         | os.O_CLOEXEC)
        except OSError as exc:
            why = "is a symbolic link" if exc.errno in (errno.ELOOP, errno.ENOTDIR) \
                else exc.strerror
            raise errors.StorageError(
                f"cannot open the challenge board {self.directory}: it {why}; remove it and "
                "run again (certkernel recreates it)") from None
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            os.close(fd)
            raise errors.StorageError(
                f"the challenge board {self.directory} must belong to this user "
                f"(uid {os.geteuid()}) and be writable by no one else; fix it with "
                f"`chown {os.geteuid()} {self.directory} && chmod 755 {self.directory}`")
        return fd

    def _dir(self) -> int:
        if self._fd is None:
            self.open()
        assert self._fd is not None
        return self._fd

    def close(self) -> None:
        """Release the directory's descriptor (idempotent)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def publish(self, token: str, key_authorization: str) -> None:
        """Write the key authorization to a temporary name, fsync, rename over the token's."""
        check_challenge(token, key_authorization)
        fd = self._dir()
        tmp = f"{_TMP_PREFIX}{token}.{os.urandom(6).hex()}"
        try:
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                          | os.O_CLOEXEC, 0o644, dir_fd=fd)
            try:
                os.fchmod(out, 0o644)
                os.write(out, key_authorization.encode("ascii"))
                os.fsync(out)
            finally:
                os.close(out)
            # rename replaces whatever entry has the token's name (a planted
            # symlink included) without following it
            os.replace(tmp, token, src_dir_fd=fd, dst_dir_fd=fd)
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            raise errors.StorageError(
                f"cannot publish token {token} in {self.directory}: {exc.strerror}") from None

    def withdraw(self, token: str) -> None:
        """Remove the token's file; a token that is not there is not an error."""
        check_challenge(token)
        fd = self._dir()
        try:
            os.unlink(token, dir_fd=fd)
            os.fsync(fd)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise errors.StorageError(
                f"cannot withdraw token {token} from {self.directory}: {exc.strerror}") from None

    def lookup(self, token: str) -> str | None:
        """The key authorization for ``token``, or None for anything but a proper entry."""
        if not valid_token(token):
            return None
        fd = self._dir()
        try:
            # O_NONBLOCK: a FIFO planted under a token's name must not hang a thread
            entry = open_beneath(fd, token, os.O_RDONLY | os.O_NONBLOCK, where=self.directory)
        except (errors.PathRefused, OSError):
            return None
        try:
            info = os.fstat(entry)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 \
                    or info.st_size > MAX_KEY_AUTHORIZATION:
                return None
            data = os.read(entry, MAX_KEY_AUTHORIZATION + 1)
        except OSError:
            return None
        finally:
            os.close(entry)
        text = data.decode("ascii", errors="replace")
        return text if valid_key_authorization(token, text) else None


@runtime_checkable
class OpensUpFront(Protocol):
    """An optional capability of a board: open its directory or connection now.

    ``certkernel responder`` calls it before it drops root, so that a board
    whose files or credentials only root may read keeps working afterwards
    (``LocalBoard.open``; a shared board can connect here). Raises
    ``StorageError``; a second call does nothing.
    """

    def open(self) -> None: ...


def open_up_front(board: ChallengeBoard) -> None:
    """Open ``board`` now if it has that capability (see :class:`OpensUpFront`)."""
    if isinstance(board, OpensUpFront):
        board.open()


def board_for(config: Config) -> ChallengeBoard:
    """The board this run publishes to and ``certkernel responder`` serves from.

    Fleet mode (``--store``): the store's shared board, so any host answers
    for a token any host published; otherwise the local board under
    ``--work-dir``.
    """
    if config.store:
        return PgBoard(open_database(config))
    return LocalBoard(os.path.join(config.work_dir, BOARD_DIR))
