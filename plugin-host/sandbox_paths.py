"""Where a confined plugin may write: its roots, and the runtime paths the kernel makes.

Why a module of its own: these turn a manifest's ``[confine]`` table and a
run's options into concrete paths (and create the ``{work_dir}``/``{config_dir}``
entries with O_EXCL|O_NOFOLLOW); :mod:`certkernel.plugin_host.sandbox` builds
the Landlock policy from them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from typing import Any

from certkernel import errors
from certkernel.plugin_host.manifest import Manifest


def write_roots(manifest: Manifest, options: Mapping[str, Any]) -> list[str]:
    """The roots named by the options listed in ``[confine] write_options``, as given."""
    roots: list[str] = []
    for name in manifest.confine.write_options if manifest.confine else ():
        value = options.get(name)
        if isinstance(value, Mapping):
            items = [str(v) for v in value.values()]
        elif isinstance(value, list | tuple):
            items = [str(v) for v in value]
        else:
            items = [str(value)] if value else []
        for item in items:
            path = os.path.abspath(os.path.expanduser(item))
            if item and path not in roots:
                roots.append(path)
    return roots


def _placed(entry: str, dirs: Mapping[str, str]) -> str:
    for key, value in dirs.items():
        if entry.startswith("{" + key + "}/"):
            return os.path.join(value, entry[len(key) + 3:])
    return os.path.abspath(entry)


def runtime_paths(manifest: Manifest, work_dir: str, config_dir: str) -> list[str]:
    """``[confine] write_paths`` and ``write_files`` with the kernel's folders filled in."""
    dirs = {"work_dir": work_dir, "config_dir": config_dir}
    confine = manifest.confine
    if confine is None:
        return []
    return [_placed(entry, dirs) for entry in (*confine.write_paths, *confine.write_files)]


def make_placed(manifest: Manifest, work_dir: str, config_dir: str) -> None:
    """Create the ``{work_dir}/NAME`` folders and ``{config_dir}/NAME`` files declared.

    A confined plugin may write only beneath what exists when its rules are
    made, so the kernel creates these (root-owned; a folder 0755 so a web
    server can serve from it, a file empty and 0644) with O_EXCL and
    O_NOFOLLOW. An existing entry is left as it is: a symlink there was put
    by root (these folders are root's), and the rule then covers its target
    (see landlock.build); one of the wrong kind is an error, never replaced.
    """
    confine = manifest.confine
    if confine is None:
        return
    for entries, base, folder in ((confine.write_paths, ("work_dir", work_dir), True),
                                  (confine.write_files, ("config_dir", config_dir), False)):
        prefix = "{" + base[0] + "}/"
        for entry in entries:
            if not entry.startswith(prefix):
                continue
            name = entry[len(prefix):]
            os.makedirs(base[1], mode=0o755, exist_ok=True)
            dir_fd = os.open(base[1], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                _make_one(dir_fd, base[1], name, folder)
            finally:
                os.close(dir_fd)


def _make_one(dir_fd: int, parent: str, name: str, folder: bool) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        if folder:
            os.mkdir(name, 0o755, dir_fd=dir_fd)
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=dir_fd)
        else:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
        try:
            os.fchmod(fd, 0o755 if folder else 0o644)  # whatever the umask was
        finally:
            os.close(fd)
        return
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(name, dir_fd=dir_fd)
        except OSError:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    wanted = stat.S_ISDIR if folder else stat.S_ISREG
    if not wanted(st.st_mode):
        kind = "folder" if folder else "regular file"
        raise errors.PluginError(
            f"{os.path.join(parent, name)} must be a {kind} (or a symlink to one) for a "
            "confined plugin to write there; move it away and run again")
