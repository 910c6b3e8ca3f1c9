"""Writing configuration files inside the server root, through the links admins use.

Debian-style layouts enable a site with a symlink
(``sites-enabled/x -> ../sites-available/x``). Replacing the link with a
regular file would silently disable the admin's workflow, so an edit goes to
the file the link names. That file is also what the kernel must checkpoint:
the kernel never follows links when it backs up or restores, so the plugin
resolves the link itself (:func:`resolve_beneath`) and hands the kernel the
real path, which must stay under the server root — the only tree the kernel
lets this plugin change.

Resolution reads links one component at a time (bounded), and the write
itself walks from the server root with ``O_NOFOLLOW`` directory fds, so a
link swapped in after resolution makes the write fail instead of going
somewhere else.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from certkernel.sdk import MisconfigurationError
from certkernel.sdk.atomic import write_atomic

MAX_LINKS = 40  # the kernel's own limit for one path (ELOOP)


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _inside(root: str, path: str) -> list[str] | None:
    """Components of ``path`` below ``root`` (absolute, normalized), or None if not below it."""
    path = os.path.normpath(path)
    for base in dict.fromkeys((root, os.path.realpath(root))):
        if path == base:
            return []
        if path.startswith(base.rstrip("/") + "/"):
            return _parts(path[len(base):])
    return None


def resolve_beneath(root: str, path: str) -> str:
    """The file ``path`` stands for, links followed, as ``root/...``; refused if it leaves ``root``.

    A missing final component is fine (a file about to be created).
    """
    root = os.path.abspath(root)
    todo = _inside(root, path)
    if todo is None:
        raise MisconfigurationError(
            f"{path} is outside the server root {root}; certkernel changes only files under it "
            "(set --nginx-server-root to the folder holding nginx.conf and its includes)"
        )
    done: list[str] = []
    hops = 0
    while todo:
        name = todo.pop(0)
        if name == "..":
            if not done:
                raise MisconfigurationError(f"{path} leads out of the server root {root}")
            done.pop()
            continue
        here = os.path.join(root, *done, name)
        try:
            info = os.lstat(here)
        except FileNotFoundError:
            done.append(name)
            continue
        if not stat.S_ISLNK(info.st_mode):
            done.append(name)
            continue
        hops += 1
        if hops > MAX_LINKS:
            raise MisconfigurationError(f"{path}: too many levels of symbolic links")
        target = os.readlink(here)
        if os.path.isabs(target):
            below = _inside(root, target)
            if below is None:
                raise _outside(here, target, root)
            done, todo = [], below + todo
        else:
            joined = os.path.normpath(os.path.join(root, *done, target))
            if _inside(root, joined) is None:
                raise _outside(here, joined, root)
            todo = _parts(target) + todo
    return os.path.join(root, *done)


def _outside(link: str, target: str, root: str) -> MisconfigurationError:
    return MisconfigurationError(
        f"{link} is a link to {target}, outside the server root {root}; certkernel changes only "
        "files under it: move the file into the server root (and point the link there), "
        "or set --nginx-server-root to a folder holding both"
    )


@contextmanager
def _parent_fd(root: str, path: str) -> Iterator[tuple[int, str]]:
    """(fd of the directory holding ``path``, its name), every step opened without following links."""
    parts = _inside(root, path)
    if not parts:
        raise MisconfigurationError(f"{path} is not a file under the server root {root}")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            try:
                step = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise MisconfigurationError(
                    f"{path}: {name} changed or is a link since the configuration was read ({exc.strerror})"
                ) from exc
            os.close(fd)
            fd = step
        yield fd, parts[-1]
    finally:
        os.close(fd)


def write_beneath(root: str, path: str, data: bytes) -> None:
    """Atomically replace (or create) the regular file ``path`` under ``root``, keeping its mode and owner.

    The walk to the parent is this module's (``O_NOFOLLOW`` from the root);
    the write is the SDK's, relative to the directory fd the walk ended on.
    """
    with _parent_fd(os.path.abspath(root), path) as (dir_fd, name):
        write_atomic(name, data, dir_fd=dir_fd, shown_as=path)


def unlink_beneath(root: str, path: str) -> None:
    """Remove the file ``path`` under ``root`` (a file we created); gone already is fine."""
    with _parent_fd(os.path.abspath(root), path) as (dir_fd, name):
        try:
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
