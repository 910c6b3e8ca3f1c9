"""Who a plugin runs as, with which limits, and whether that user can run it at all.

Why this exists: starting a plugin as an unprivileged user fails in obscure
ways when the interpreter or the plugin's code sits where that user cannot
go (a virtualenv under a 0700 ``/root`` gives a bare ``PermissionError``), and
it is unsafe when that user can change code that root also runs (a plugin
could plant a module the kernel imports next time). So before spawning, the
host checks every path the plugin needs, with the target user's uid and its
single group (supplementary groups are cleared at spawn), and says exactly
which path is wrong and what to change.

Who by default (least privilege, when the kernel runs as root): a plugin
whose manifest asks for nothing runs as the system account ``_certkernel``,
created on first use; ``[sandbox] privilege = "owner"`` runs as the owner of
the roots its options name (webroot: the web root's owner) or, when they are
root-owned or have different owners, as root confined by Landlock;
``privilege = "root"`` (with a ``reason``) runs as root, confined by
Landlock to what its ``[confine]`` table declares. See :func:`decide`.

User specs: ``--plugin-user`` (also ``plugin-user`` in cli.ini, saved in the
renewal conf) is a comma-separated list of ``USER[:GROUP]`` (all plugins)
and ``PLUGIN=USER[:GROUP]`` (one plugin) entries; a per-plugin entry beats
the global one, which beats the manifest's ``[sandbox] user`` default.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import stat
import sys
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from certkernel import errors
from certkernel.plugin_host.landlock import Policy
from certkernel.plugin_host.manifest import Manifest
from certkernel.plugin_host.spawn import Limits

_MIB = 1024 * 1024
ACCOUNT = "_certkernel"
_log = logging.getLogger("certkernel.plugins")


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


# -- least privilege by default -------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """How one plugin runs in this run: as whom, confined to what, and why (for people)."""

    user: SandboxUser | None  # None: the kernel's own user
    confine: Policy | None  # a Landlock policy (root runs of plugins declaring [confine])
    why: str
    unconfined_note: str = ""  # set when confinement was wanted but Landlock is missing
    limits: Limits | None = None  # the manifest's [sandbox] limits, set when user is set


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


def ensure_account(name: str = ACCOUNT) -> SandboxUser:
    """The unprivileged system account for plugins, created once if missing.

    Why a lock and a retry: two certkernel runs (renew from cron while an
    operator runs certonly) may both find the account missing. They take
    an ``flock`` on /etc/passwd (opened read-only; useradd's own lock is a
    different one, so nothing deadlocks), look again, and only then run
    ``useradd``; if that still fails because someone else created the
    account meanwhile, the lookup afterwards finds it.
    """
    import fcntl
    import subprocess

    source = "the plugin account"
    try:
        return lookup_user(name, source)
    except errors.ConfigurationError:
        pass
    fd = os.open("/etc/passwd", os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            return lookup_user(name, source)
        except errors.ConfigurationError:
            pass
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv
                ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                 "--shell", "/usr/sbin/nologin", "--user-group", name],
                capture_output=True, text=True, timeout=60, check=False,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            )
            problem = done.stderr.strip() if done.returncode else ""
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = str(exc)
        try:
            user = lookup_user(name, source)
        except errors.ConfigurationError:
            raise errors.ConfigurationError(
                f"cannot create the system account {name} for plugins that need no root "
                f"({problem or 'useradd failed'}); create it with `useradd --system "
                f"--no-create-home --shell /usr/sbin/nologin --user-group {name}` or choose "
                "a user with --plugin-user"
            ) from None
        if not problem:
            _log.info("Created the system account %s for plugins that need no root", name)
        return user
    finally:
        os.close(fd)


def _owner_of(roots: Sequence[str]) -> tuple[SandboxUser | None, str]:
    """The single non-root owner of ``roots`` (lstat, symlinks not followed), or why not."""
    import grp
    import pwd

    if not roots:
        return None, "no roots given"
    owners: set[int] = set()
    gids: set[int] = set()
    for root in roots:
        try:
            st = os.lstat(root)
        except OSError as exc:
            return None, f"{root} cannot be checked ({exc.strerror})"
        owners.add(st.st_uid)
        gids.add(st.st_gid)
    if len(owners) > 1:
        return None, "its roots have different owners"
    uid = owners.pop()
    if uid == 0:
        return None, "its roots are owned by root"
    try:
        pw = pwd.getpwuid(uid)
        name, gid = pw.pw_name, pw.pw_gid
    except KeyError:
        name, gid = str(uid), gids.pop() if len(gids) == 1 else uid
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return SandboxUser(uid=uid, gid=gid, name=name, group=group), ""


_warned_missing: set[str] = set()


def decide(
    manifest: Manifest,
    configured: str | None,
    options: Mapping[str, Any],
    *,
    work_dir: str,
    config_dir: str,
    state_dir: str | None = None,
    create_account: bool = True,
    landlock_abi: int | None = None,
) -> Decision:
    """Who ``manifest``'s plugin runs as in this run, how it is confined and limited.

    Order: an explicit ``--plugin-user`` (``root`` is the opt-out: root,
    unconfined), the manifest's ``[sandbox] user``, then the manifest's
    ``privilege``. A kernel that is not root runs every plugin as itself.
    A plugin that runs as another user gets the manifest's limits.
    """
    decision = _chosen_user(manifest, configured)
    if decision is None and os.geteuid() != 0:
        decision = Decision(None, None, f"{_me()} (the user running certkernel; only root "
                            "switches plugins to other users)")
    if decision is None and manifest.privilege == "unprivileged":
        decision = _unprivileged(create_account)
    if decision is None:
        decision = _privileged(manifest, options, work_dir=work_dir, config_dir=config_dir,
                               state_dir=state_dir, landlock_abi=landlock_abi)
    if decision.user is not None:
        decision = replace(decision, limits=limits_for(manifest))
    return decision


def _chosen_user(manifest: Manifest, configured: str | None) -> Decision | None:
    """The decision an explicit ``--plugin-user`` or ``[sandbox] user`` makes, if any."""
    choice = choose_user(manifest.name, configured, manifest)
    if not choice.spec:
        return None
    target = resolve_for(choice)
    if target is not None:
        return Decision(target, None, f"{target.name}:{target.group} (from {choice.source})")
    if choice.source == "--plugin-user" and os.geteuid() == 0:
        return Decision(None, None, "root (--plugin-user root: least privilege switched "
                        "off, not confined)")
    return None


def _unprivileged(create_account: bool) -> Decision:
    """A plugin that needs no root runs as certkernel's own unprivileged account."""
    try:
        user = ensure_account() if create_account else lookup_user(ACCOUNT, "")
    except errors.ConfigurationError:  # only when not asked to create it
        return Decision(None, None, f"{ACCOUNT} (needs no root, so it runs as "
                        "certkernel's unprivileged account, created on first use)")
    return Decision(user, None, f"{user.name}:{user.group} (needs no root, so it runs "
                    "as certkernel's unprivileged account)")


def _privileged(manifest: Manifest, options: Mapping[str, Any], *, work_dir: str,
                config_dir: str, state_dir: str | None, landlock_abi: int | None) -> Decision:
    """``privilege = "owner"`` or ``"root"``: the roots' owner, else root, confined if declared."""
    roots = write_roots(manifest, options)
    if manifest.privilege == "owner":
        owner, why_not = _owner_of(roots)
        if owner is not None:
            return Decision(owner, None, f"{owner.name}:{owner.group} (owner of "
                            f"{', '.join(roots)})")
        head = f"root ({why_not}; {manifest.privilege_reason})"
    else:
        head = f"root ({manifest.privilege_reason})"
    if manifest.confine is None:
        return Decision(None, None, f"{head}; not confined: its manifest declares no [confine]")
    from certkernel.plugin_host.landlock import abi_version

    abi = abi_version() if landlock_abi is None else landlock_abi
    if abi <= 0:
        note = "Landlock is not available on this kernel, so root plugins run unconfined"
        if note not in _warned_missing:
            _warned_missing.add(note)
            _log.warning("%s", note)
        return Decision(None, None, f"{head}; NOT confined: {note}", unconfined_note=note)
    paths = [*roots, *runtime_paths(manifest, work_dir, config_dir)]
    if state_dir:
        paths.append(os.path.abspath(state_dir))
    network = manifest.confine.network
    policy = Policy(write_paths=tuple(paths), allow_connect=network in ("connect", "any"),
                    allow_bind=network == "any")
    net = {"none": "no bind or connect", "connect": "may connect, never bind",
           "any": "not restricted"}[network]
    return Decision(None, policy, f"{head}; confined by Landlock (ABI {abi}): writes only "
                    f"under its roots, state dir and declared runtime paths; TCP: {net}")


def _me() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def limits_for(manifest: Manifest) -> Limits:
    """Resource limits from the manifest's ``[sandbox]`` table, else the defaults."""
    base = Limits()
    memory = _positive_int(manifest, "max_memory_mb")
    files = _positive_int(manifest, "max_files")
    file_size = _positive_int(manifest, "max_file_size_mb")
    return Limits(
        max_files=files if files is not None else base.max_files,
        max_memory=memory * _MIB if memory is not None else base.max_memory,
        max_cpu_seconds=_positive_int(manifest, "max_cpu_seconds"),
        max_file_size=file_size * _MIB if file_size is not None else None,
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


def summary(user: SandboxUser | None, limits: Limits | None) -> dict[str, Any]:
    """Loggable description of a plugin's sandbox (for debug logs)."""
    if user is None:
        return {"user": "kernel"}
    return {
        "user": user.describe(),
        "max_memory_mb": (limits.max_memory // _MIB) if limits and limits.max_memory else None,
        "max_files": limits.max_files if limits else None,
    }
