"""Who a plugin runs as, with which limits, and whether that user can run it at all.

Why this exists: starting a plugin as an unprivileged user fails in obscure
ways when the interpreter or the plugin's code sits where that user cannot
go (a virtualenv under a 0700 ``/root`` gives a bare ``PermissionError``), and
it is unsafe when that user can change code that root also runs (a plugin
could plant a module the kernel imports next time). So before spawning, the
host checks every path the plugin needs, with the target user's uid and its
single group (supplementary groups are cleared at spawn), and says exactly
which path is wrong and what to change.

User specs: ``--plugin-user`` (also ``plugin-user`` in cli.ini, saved in the
renewal conf) is a comma-separated list of ``USER[:GROUP]`` (all plugins)
and ``PLUGIN=USER[:GROUP]`` (one plugin) entries; a per-plugin entry beats
the global one, which beats the manifest's ``[sandbox] user`` default.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from certkernel import errors
from certkernel.plugin_host.manifest import Manifest
from certkernel.plugin_host.spawn import Limits

_MIB = 1024 * 1024


@dataclass(frozen=True)
class UserChoice:
    """The user spec that applies to one plugin, and where it came from."""

    spec: str  # "" = the kernel's own user
    source: str  # "--plugin-user", "the manifest's [sandbox] user", or "default"


@dataclass(frozen=True)
class SandboxUser:
    """A resolved target user: ids, names for messages, and the spec's origin."""

    uid: int
    gid: int
    name: str
    group: str

    def describe(self) -> str:
        return f"{self.name} (uid {self.uid}, gid {self.gid})"


def choose_user(plugin: str, configured: str | None, manifest: Manifest | None) -> UserChoice:
    """Pick the spec for ``plugin`` from the configured value and the manifest default."""
    default = None
    for raw in (configured or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, spec = entry.partition("=")
        if sep and name.strip() == plugin:
            return UserChoice(spec.strip(), "--plugin-user")
        if not sep:
            default = entry
    if default is not None:
        return UserChoice(default, "--plugin-user")
    fallback = str((manifest.sandbox if manifest else {}).get("user", "") or "")
    if fallback:
        return UserChoice(fallback, "the manifest's [sandbox] user")
    return UserChoice("", "default")


def lookup_user(spec: str, source: str = "--plugin-user") -> SandboxUser:
    """``USER[:GROUP]`` (names or numbers) to ids; ConfigurationError if unknown."""
    import grp
    import pwd

    user, _, group = spec.partition(":")
    try:
        pw = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise errors.ConfigurationError(
            f"{source}: no such user {user!r}; create it (useradd --system --no-create-home "
            f"--shell /usr/sbin/nologin --user-group {user}) or choose another with --plugin-user"
        ) from None
    gid = pw.pw_gid
    if group:
        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise errors.ConfigurationError(f"{source}: no such group {group!r}") from None
    try:
        group_name = grp.getgrgid(gid).gr_name
    except KeyError:
        group_name = str(gid)
    return SandboxUser(uid=pw.pw_uid, gid=gid, name=pw.pw_name, group=group_name)


def resolve_for(choice: UserChoice) -> SandboxUser | None:
    """The user to switch to, or None when the plugin runs as the kernel's user.

    A manifest default cannot be honoured by a kernel that is not root; it is
    then ignored (the plugin runs as the invoking user, as it always could).
    An explicit ``--plugin-user`` naming someone else is an error instead.
    """
    if not choice.spec:
        return None
    target = lookup_user(choice.spec, choice.source)
    if target.uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        if choice.source == "--plugin-user":
            raise errors.ConfigurationError(
                f"--plugin-user {choice.spec}: only root can run plugins as another user"
            )
        return None
    return target


def describe_choice(choice: UserChoice) -> str:
    """What ``certkernel plugins`` prints after "Runs as:"."""
    import pwd

    if not choice.spec:
        try:
            me = pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:
            me = str(os.geteuid())
        return f"{me} (the user running certkernel)"
    try:
        target = lookup_user(choice.spec, choice.source)
    except errors.ConfigurationError as exc:
        return f"{choice.spec} (from {choice.source}; error: {exc})"
    suffix = "" if os.geteuid() == 0 or target.uid == os.geteuid() else \
        "; only when certkernel runs as root"
    return f"{target.name}:{target.group} (from {choice.source}{suffix})"


def limits_for(manifest: Manifest) -> Limits:
    """Resource limits from the manifest's ``[sandbox]`` table, else the defaults."""
    base = Limits()
    memory = _positive_int(manifest, "max_memory_mb")
    files = _positive_int(manifest, "max_files")
    return Limits(
        max_files=files if files is not None else base.max_files,
        max_memory=memory * _MIB if memory is not None else base.max_memory,
    )


def _positive_int(manifest: Manifest, key: str) -> int | None:
    value = manifest.sandbox.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise errors.ConfigurationError(
            f"plugin manifest {manifest.manifest_file}: sandbox.{key} must be a positive integer"
        )
    return value


# -- can the target user run it? -----------------------------------------------


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


def spawn_user(manifest: Manifest, configured: str | None) -> SandboxUser | None:
    """The resolved user for ``manifest`` (None: the kernel's own)."""
    return resolve_for(choose_user(manifest.name, configured, manifest))


def summary(user: SandboxUser | None, limits: Limits | None) -> dict[str, Any]:
    """Loggable description of a plugin's sandbox (for debug logs)."""
    if user is None:
        return {"user": "kernel"}
    return {
        "user": user.describe(),
        "max_memory_mb": (limits.max_memory // _MIB) if limits and limits.max_memory else None,
        "max_files": limits.max_files if limits else None,
    }
