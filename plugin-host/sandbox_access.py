"""Can the target user run this plugin? Every needed path checked, each problem named.

Why this exists: starting a plugin as an unprivileged user fails in obscure
ways when the interpreter or the plugin's code sits where that user cannot
go (a virtualenv under a 0700 ``/root`` gives a bare ``PermissionError``), and
it is unsafe when that user can change code that root also runs (a plugin
could plant a module the kernel imports next time). So before spawning, the
host checks every path the plugin needs, with the target user's uid and its
single group (supplementary groups are cleared at spawn), and says exactly
which path is wrong and what to change.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from certkernel import errors
from certkernel.plugin_host.manifest import Manifest
from certkernel.plugin_host.sandbox_users import SandboxUser


@dataclass(frozen=True)
class _Need:
    """A path the plugin needs, why, and how (read, execute, or only pass through)."""

    path: str
    why: str
    read: bool = True
    execute: bool = False
    code: bool = True  # code must not be writable by the plugin's user


def _allowed(st: os.stat_result, user: SandboxUser, bit: str) -> bool:
    """Mode-bit check for ``user`` with no supplementary groups (ACLs not considered)."""
    shift = {"r": 2, "w": 1, "x": 0}[bit]
    if st.st_uid == user.uid:
        return bool(st.st_mode & (0o100 << shift))
    if st.st_gid == user.gid:
        return bool(st.st_mode & (0o010 << shift))
    return bool(st.st_mode & (0o001 << shift))


def _owner(st: os.stat_result) -> str:
    import pwd

    try:
        return pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return str(st.st_uid)


def _chain(path: str) -> list[str]:
    """Every directory from / down to ``path``'s parent, then ``path`` itself."""
    parts: list[str] = []
    current = os.path.abspath(path)
    while True:
        parts.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return list(reversed(parts))


def _writable_by(st: os.stat_result, user: SandboxUser) -> bool:
    if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX and st.st_uid != user.uid:
        return False  # sticky (/tmp): others cannot replace what they do not own
    return st.st_uid == user.uid or _allowed(st, user, "w")


def _problems_for(need: _Need, user: SandboxUser) -> list[tuple[str, str]]:
    """(path, what is wrong and what to run) for one needed path."""
    problems: list[tuple[str, str]] = []
    chain = _chain(need.path)
    for index, path in enumerate(chain):
        try:
            st = os.stat(path)
        except OSError as exc:
            return [(path, f"{path} ({need.why}) cannot be checked: {exc.strerror}")]
        mode = f"mode {stat.S_IMODE(st.st_mode):04o}, owner {_owner(st)}"
        leaf = index == len(chain) - 1
        if not leaf or stat.S_ISDIR(st.st_mode):
            if not _allowed(st, user, "x"):
                tail = "" if leaf else f" to {need.why} {need.path}"
                problems.append((path,
                    f"{path} ({mode}) does not let {user.name} through{tail}: "
                    f"run `chmod o+x {path}`"
                ))
                return problems
        if leaf:
            wanted = ("r" if need.read else "") + ("x" if need.execute or
                                                   stat.S_ISDIR(st.st_mode) else "")
            missing = [b for b in wanted if not _allowed(st, user, b)]
            if missing:
                problems.append((path,
                    f"{need.why} {path} ({mode}) is not {'/'.join(_WORDS[b] for b in missing)}"
                    f" by {user.name}: run `chmod o+{''.join(wanted)} {path}`"
                ))
        if need.code and _writable_by(st, user):
            who = user.name if st.st_uid == user.uid or st.st_gid == user.gid else "everyone"
            problems.append((path + "\0w",
                f"{path} ({mode}) is writable by {who}, so the sandboxed plugin could change "
                f"code that root runs: make it owned by root and run `chmod go-w {path}`"
            ))
    return problems


_WORDS = {"r": "readable", "x": "executable", "w": "writable"}


def _symlink_chain(path: str) -> list[str]:
    """``path``, every symlink it goes through, and the final target."""
    seen = [path]
    current = path
    for _ in range(40):
        if not os.path.islink(current):
            break
        target = os.readlink(current)
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
        seen.append(current)
    real = os.path.realpath(path)
    if real not in seen:
        seen.append(real)
    return seen


def _module_dir(name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
        return None
    return os.path.dirname(spec.origin)


def _python_needs(python: str) -> list[_Need]:
    """The interpreter, its standard library, site-packages and certkernel's code."""
    needs = [_Need(p, "the Python interpreter", execute=True) for p in _symlink_chain(python)]
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        dirs = {"the Python standard library": os.path.dirname(os.__file__)}
        for key in ("purelib", "platlib"):
            dirs[f"the virtualenv's site-packages ({key})"] = sysconfig.get_path(key)
        for module in ("certkernel", "certkernel.protocol", "certkernel.sdk", "msgpack"):
            where = _module_dir(module)
            if where:
                dirs[f"the code of {module}"] = where
        for why, path in dirs.items():
            if path and os.path.isdir(path):
                needs.append(_Need(os.path.realpath(path), why))
    return needs


def _command_needs(argv: Sequence[str], env: Mapping[str, str], python: str) -> list[_Need]:
    import shutil

    program = argv[0]
    if os.path.realpath(program) == os.path.realpath(python):
        return _python_needs(program)
    found = program if os.sep in program else shutil.which(program, path=env.get("PATH"))
    if not found:
        return []  # spawning reports "not found" clearly already
    needs = [_Need(p, "the plugin's executable", execute=True) for p in _symlink_chain(found)]
    try:
        with open(found, "rb") as fh:
            first = fh.readline(256)
    except OSError:
        first = b""
    if first.startswith(b"#!"):
        interp = first[2:].decode("utf-8", "replace").split()
        if interp and os.path.isabs(interp[0]):
            needs += [_Need(p, "the script's interpreter", execute=True)
                      for p in _symlink_chain(interp[0])]
    return needs


def check_access(
    manifest: Manifest,
    argv: Sequence[str],
    env: Mapping[str, str],
    user: SandboxUser,
    state_dir: str | None = None,
    python: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> None:
    """Raise PluginError naming every path ``user`` cannot use to run this plugin."""
    py = python or sys.executable
    needs = _command_needs(argv, env, py)
    needs.append(_Need(str(manifest.path), f"the code folder of plugin {manifest.name}"))
    needs += [_Need(path, why) for why, path in extra]
    if state_dir:
        # Owned by the plugin's user by design; only the way there is checked.
        needs.append(_Need(os.path.dirname(os.path.abspath(state_dir)),
                           "the folder holding its state directory", read=False, code=False))
    seen: set[str] = set()
    problems: list[str] = []
    for need in needs:
        for where, problem in _problems_for(need, user):
            if where not in seen:
                seen.add(where)
                problems.append(problem)
    if problems:
        hint = ""
        if any(p.startswith("/root ") for p in problems):
            hint = " (or install certkernel in a virtualenv outside /root that all users can read)"
        raise errors.PluginError(
            f"plugin {manifest.name} cannot run as {user.describe()}: "
            + "; ".join(problems) + hint
        )
