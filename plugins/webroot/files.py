"""Creating and removing challenge files under a webroot, remembering what we made.

Why a ledger: cleanup must remove exactly what perform created — the token
files and any of ``.well-known`` / ``.well-known/acme-challenge`` that did
not exist before — and never a directory the site already had (some sites
keep other files in ``.well-known``).
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import re
from dataclasses import dataclass, field

from certkernel.errors import PluginError

CHALLENGE_DIR = (".well-known", "acme-challenge")
DIR_MODE = 0o755
FILE_MODE = 0o644
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+$")


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


def _copy_owner(path: str, root_stat: os.stat_result) -> None:
    """Give what we create the webroot's owner, so the site's user can read and manage it."""
    if os.geteuid() == 0:
        os.chown(path, root_stat.st_uid, root_stat.st_gid)


@dataclass
class Ledger:
    """What perform created, in creation order."""

    dirs: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # path -> content written

    def challenge_dir(self, root: str) -> str:
        """Create ``<root>/.well-known/acme-challenge`` as needed (0755); return it."""
        root_stat = os.stat(root)
        path = root
        for part in CHALLENGE_DIR:
            path = os.path.join(path, part)
            try:
                os.mkdir(path, DIR_MODE)
            except FileExistsError:
                if not os.path.isdir(path):
                    raise PluginError(f"{path} exists and is not a directory") from None
                continue
            except OSError as exc:
                raise _denied(path, exc) from None
            self.dirs.append(path)
            try:
                os.chmod(path, DIR_MODE)  # the umask must not make it unreadable to the server
                _copy_owner(path, root_stat)
            except OSError as exc:
                raise _denied(path, exc) from None
        return path

    def write_token(self, root: str, token: str, content: str) -> str:
        """Write one challenge file (0644) and record it."""
        if not _TOKEN_RE.match(token):
            raise PluginError(f"refusing challenge token {token!r}: not base64url")
        directory = self.challenge_dir(root)
        path = os.path.join(directory, token)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
        except OSError as exc:
            raise _denied(path, exc) from None
        self.files[path] = content
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, content.encode("ascii"))
        finally:
            os.close(fd)
        _copy_owner(path, os.stat(root))
        return path

    def remove_token(self, path: str) -> None:
        """Remove a file we wrote, unless someone replaced its content since.

        A missing file is fine: cleanup tolerates partial state.
        """
        expected = self.files.pop(path, None)
        try:
            with open(path, encoding="ascii", errors="replace") as fh:
                if expected is not None and fh.read() != expected:
                    return
            os.unlink(path)
        except FileNotFoundError:
            pass

    def save(self, path: str) -> None:
        """Persist the ledger so a fresh process can finish a cleanup (kernel retry)."""
        if not self.files and not self.dirs:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            return
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"dirs": self.dirs, "files": self.files}, fh)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> Ledger:
        """The ledger a previous process saved, or an empty one."""
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            return cls(dirs=[str(d) for d in data["dirs"]],
                       files={str(k): str(v) for k, v in data["files"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()

    def remove_dirs(self) -> list[str]:
        """Remove the directories we created, deepest first, if they are empty now.

        Returns the ones left in place (someone put other files there).
        """
        kept: list[str] = []
        for path in reversed(self.dirs):
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                kept.append(path)
        self.dirs = list(reversed(kept))
        return kept
