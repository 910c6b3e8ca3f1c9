"""Creating and removing challenge files under a web root, never following a link.

The web root belongs to its site, and whoever owns it (often ``www-data``)
may be hostile while this plugin runs as root. So:

- The web root is the directory the operator named with ``-w``; links in
  that path are followed once, when it is opened, because the operator chose
  it. Everything beneath it is reached from that directory fd one component
  at a time with ``O_NOFOLLOW | O_DIRECTORY`` (``certkernel.sdk.safepath``):
  ``.well-known`` or ``acme-challenge`` as a link is refused with one line.
- A token file is created ``O_CREAT | O_EXCL | O_NOFOLLOW`` relative to the
  ``acme-challenge`` fd, mode 0644 exactly, and is *not* chowned: the web
  server needs to read it (0644 under 0755 directories), not to own it. The
  directories we create are not chowned either.
- Cleanup unlinks our token names relative to the directory fds perform
  used (or, in a fresh process, a new no-follow walk), whatever the files
  hold now: the name is ours, the directory is where we put it, and a web
  server that rewrote the file must not leave it behind. Directories are
  removed only when we created them, they are still the same inode, and
  they are empty.

Why a ledger: cleanup must remove exactly what perform created, and a
fresh process (the kernel retries cleanup after a plugin crash) must know
it too; it is saved in the plugin's state dir.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import re
from dataclasses import dataclass, field
from typing import Any

from certkernel.sdk import PluginError
from certkernel.sdk.atomic import write_atomic
from certkernel.sdk.safepath import (
    FileId,
    create_file_at,
    make_dir_at,
    open_dir,
    open_dir_at,
    read_file_at,
    remove_dir_at,
    remove_file_at,
)

CHALLENGE_DIR = (".well-known", "acme-challenge")
DIR_MODE = 0o755
FILE_MODE = 0o644
LEDGER_VERSION = 2
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_VALIDATION = 4096  # bytes read back when checking an unrecorded token file


def _user() -> str:
    uid = os.geteuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _denied(path: str, exc: OSError) -> PluginError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PluginError(
            f"Could not write {path}: {exc.strerror}; the webroot plugin runs as user "
            f"{_user()}, which cannot write there. Fix the permissions or choose another webroot."
        )
    return PluginError(f"Could not write {path}: {exc.strerror or exc}")


def check_webroot(root: str) -> str:
    """The webroot as an absolute path; PluginError when it is not a directory.

    The kernel sends absolute paths (``~`` and relative ones resolved in the
    user's environment); this process's HOME and cwd are its state dir.
    """
    path = os.path.abspath(root)
    if not os.path.isdir(path):
        raise PluginError(
            f"The webroot path {path} does not exist or is not a directory "
            "(--webroot-path / -w must name the folder your web server serves)"
        )
    return path


def check_token(token: str) -> None:
    if not _TOKEN_RE.match(token):
        raise PluginError(f"refusing challenge token {token!r}: not base64url")


@dataclass
class Record:
    """What perform did in one web root: directories it made, tokens it wrote."""

    made: dict[str, FileId] = field(default_factory=dict)  # name in CHALLENGE_DIR -> inode
    tokens: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"made": {k: [v.dev, v.ino] for k, v in self.made.items()},
                "tokens": sorted(self.tokens)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        made = {str(k): FileId(int(v[0]), int(v[1])) for k, v in data["made"].items()
                if k in CHALLENGE_DIR}
        tokens = {str(t) for t in data["tokens"] if _TOKEN_RE.match(str(t))}
        return cls(made, tokens)


@dataclass
class _Open:
    """The fds of ``root``, ``.well-known`` and ``acme-challenge``, in that order."""

    fds: list[int]

    @property
    def challenge_fd(self) -> int:
        return self.fds[-1]

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def _walk(root: str, record: Record | None) -> _Open | None:
    """Open ``root/.well-known/acme-challenge`` without following links.

    With ``record``, missing directories are created (and recorded);
    without, a missing one means there is nothing to clean: None.
    """
    fds = [open_dir(root)]
    shown = root
    try:
        for name in CHALLENGE_DIR:
            shown = os.path.join(shown, name)
            if record is None:
                try:
                    fds.append(open_dir_at(fds[-1], name, shown))
                except FileNotFoundError:
                    _Open(fds).close()
                    return None
                continue
            try:
                fd, made = make_dir_at(fds[-1], name, DIR_MODE, shown)
            except OSError as exc:
                raise _denied(shown, exc) from None
            fds.append(fd)
            if made is not None:
                record.made[name] = made
        return _Open(fds)
    except BaseException:
        _Open(fds).close()
        raise


@dataclass
class Ledger:
    """What perform created, per web root, and the directories it holds open."""

    records: dict[str, Record] = field(default_factory=dict)
    _open: dict[str, _Open] = field(default_factory=dict)

    def write_token(self, root: str, token: str, content: str) -> str:
        """Write one challenge file (0644, owned by this process's user); return its path."""
        check_token(token)
        record = self.records.setdefault(root, Record())
        opened = self._open.get(root)
        if opened is None:
            opened = _walk(root, record)
            assert opened is not None  # with a record, missing directories are created
            self._open[root] = opened
        path = os.path.join(root, *CHALLENGE_DIR, token)
        record.tokens.add(token)  # before the write: a crash mid-write still cleans it
        try:
            create_file_at(opened.challenge_fd, token, content.encode("ascii"), FILE_MODE)
        except OSError as exc:
            raise _denied(path, exc) from None
        return path

    def remove_tokens(self, tokens: set[str]) -> list[str]:
        """Remove these of our tokens, then the directories of web roots left with none.

        Returns one line for each thing left in place, and why.
        """
        notes: list[str] = []
        for root in list(self.records):
            record = self.records[root]
            mine = record.tokens & tokens
            if not mine:
                continue
            opened = self._open.pop(root, None)
            if opened is None:  # a fresh process: walk again, never following a link
                try:
                    opened = _walk(root, None)
                except PluginError as exc:
                    notes.append(f"left {root} alone: {exc}")
            if opened is not None:
                for token in sorted(mine):
                    try:
                        remove_file_at(opened.challenge_fd, token)
                    except OSError as exc:
                        notes.append(f"could not remove {os.path.join(root, *CHALLENGE_DIR, token)}"
                                     f": {exc.strerror or exc}")
            record.tokens -= mine
            if record.tokens:
                if opened is not None:
                    self._open[root] = opened
                continue
            del self.records[root]
            if opened is not None:
                try:
                    notes += self._remove_dirs(root, record, opened)
                finally:
                    opened.close()
        return notes

    @staticmethod
    def _remove_dirs(root: str, record: Record, opened: _Open) -> list[str]:
        """Remove ``acme-challenge`` then ``.well-known`` if we made them and they are empty."""
        kept: list[str] = []
        for depth in (2, 1):
            name = CHALLENGE_DIR[depth - 1]
            made = record.made.get(name)
            if made is None:
                continue
            if not remove_dir_at(opened.fds[depth - 1], name, made):
                kept.append(os.path.join(root, *CHALLENGE_DIR[:depth]))
        return [f"kept {path}: it holds files we did not put there" for path in kept]

    def close(self) -> None:
        for opened in self._open.values():
            opened.close()
        self._open.clear()

    # -- persistence -------------------------------------------------------------

    def save(self, path: str) -> None:
        """Persist the ledger so a fresh process can finish a cleanup (kernel retry)."""
        if not self.records:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            return
        write_atomic(path, json.dumps({"version": LEDGER_VERSION,
                                       "sites": {k: v.to_json() for k, v in self.records.items()}}))

    @classmethod
    def load(cls, path: str) -> Ledger:
        """The ledger a previous process saved, or an empty one."""
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("version") != LEDGER_VERSION:
                return cls()
            return cls({str(k): Record.from_json(v) for k, v in data["sites"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return cls()


def remove_unrecorded(root: str, token: str, content: str) -> bool:
    """Cleanup with no record (the performing process died before saving it).

    Without a record we cannot know the file is ours, so only a token file
    that still holds exactly the value we published is removed; directories
    stay. Reached without following links, like everything else.
    """
    check_token(token)
    opened = _walk(root, None)
    if opened is None:
        return False
    try:
        data = read_file_at(opened.challenge_fd, token, _MAX_VALIDATION)
        if data != content.encode("ascii"):
            return False
        return remove_file_at(opened.challenge_fd, token)
    finally:
        opened.close()
