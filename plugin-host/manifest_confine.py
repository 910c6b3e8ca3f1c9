"""``[sandbox] privilege`` and ``[confine]``: who a plugin runs as and where it may write.

A plugin that runs as root is confined (Landlock) to what these tables
declare up front (PROTOCOL.md §9.2-9.4); the parsers here refuse anything
that would reach the kernel's own files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certkernel.plugin_host.manifest_reader import Reader

if TYPE_CHECKING:
    from certkernel.plugin_host.manifest import OptionSpec

PRIVILEGES = ("unprivileged", "owner", "root")
NETWORK = ("none", "connect", "any")
# [confine] entries may name one thing inside the kernel's folders: write_paths a
# folder in {work_dir}, write_files a file in {config_dir}. Never the kernel's own.
_PLACED_RE = re.compile(r"^\{(work_dir|config_dir)\}/([A-Za-z0-9_.][A-Za-z0-9_.-]*)$")
RESERVED_NAMES = frozenset({"backups", "temp_checkpoint", "IN_PROGRESS", "plugins", "cli.ini",
                            "live", "archive", "renewal", "accounts", "keys", "csr",
                            "renewal-hooks", ".certbot.lock",
                            ".certkernel-checkpoints.lock"})

@dataclass(frozen=True)
class Confine:
    """Where a plugin that runs as root may write, from its ``[confine]`` table.

    Why a declaration: a root plugin is confined (Landlock) to what its
    manifest says up front, so a compromised plugin cannot widen its own
    reach at run time. ``write_options`` name options whose values (a path,
    a list of paths or a map's values) are the plugin's roots;
    ``write_paths`` are fixed runtime paths (pid files, logs, temp folders),
    which may be one folder ``{work_dir}/NAME`` the kernel creates (0755);
    ``write_files`` are single files the plugin rewrites in place, which may
    be ``{config_dir}/NAME`` (created empty by the kernel if missing): the
    plugin may write those files, never create or remove others there.
    """

    write_options: tuple[str, ...] = ()
    write_paths: tuple[str, ...] = ()
    write_files: tuple[str, ...] = ()
    # TCP under Landlock: "none" (no bind, no connect), "connect" (connect, no
    # bind) or "any" (unrestricted: `nginx -t` binds the listen sockets it tests).
    network: str = "none"


def parse_privilege(r: Reader) -> tuple[str, str]:
    """``[sandbox] privilege`` and ``reason``: anything above unprivileged must say why."""
    privilege = r.str("privilege", "unprivileged")
    if privilege not in PRIVILEGES:
        raise r.fail(f"privilege {privilege!r} is not one of {', '.join(PRIVILEGES)}")
    reason = r.str("reason", "").strip()
    if privilege != "unprivileged" and not reason:
        raise r.fail(f'privilege = "{privilege}" needs reason = "..." saying why this plugin '
                     "cannot run as an unprivileged user")
    return privilege, reason


_ROOT_TYPES = frozenset({"path", "str", "list", "map"})


def parse_confine(r: Reader, options: tuple[OptionSpec, ...]) -> Confine:
    """``[confine]``: option names that hold roots, fixed runtime paths, network use."""
    known = {opt.name: opt for opt in options}
    write_options = r.str_list("write_options")
    for name in write_options:
        opt = known.get(name)
        if opt is None:
            raise r.fail(f"write_options names {name!r}, which is not one of its [[options]]")
        if opt.type not in _ROOT_TYPES:
            raise r.fail(f"write_options: option {name!r} of type {opt.type!r} cannot hold a path")
    write_paths = r.str_list("write_paths")
    write_files = r.str_list("write_files")
    for key, entries, place in (("write_paths", write_paths, "work_dir"),
                                ("write_files", write_files, "config_dir")):
        for entry in entries:
            placed = _PLACED_RE.match(entry)
            if entry.startswith("{"):
                if not placed or placed.group(1) != place or \
                        placed.group(2) in RESERVED_NAMES | {".", ".."}:
                    raise r.fail(f"{key} entry {entry!r} may only name one new entry in "
                                 f"{{{place}}} ({{{place}}}/NAME), not one of certkernel's own")
            elif not entry.startswith("/"):
                raise r.fail(f"{key} entry {entry!r} must be an absolute path")
            if "\0" in entry or "/../" in f"{entry}/":
                raise r.fail(f"{key} entry {entry!r} must not contain '..' or NUL")
    network = r.str("network", "none")
    if network not in NETWORK:
        raise r.fail(f"network {network!r} is not one of {', '.join(NETWORK)}")
    return Confine(write_options=write_options, write_paths=write_paths,
                   write_files=write_files, network=network)
