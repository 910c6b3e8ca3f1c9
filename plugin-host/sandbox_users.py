"""Who a plugin may run as: user specs, their lookup, and certkernel's own account.

Why a module of its own: resolving ``USER[:GROUP]`` specs, creating the
``_certkernel`` system account and finding the single owner of a plugin's
roots are about *identities*; :mod:`certkernel.plugin_host.sandbox` decides
which identity applies, :mod:`certkernel.plugin_host.sandbox_access` checks
that it can reach the code.

User specs: ``--plugin-user`` (also ``plugin-user`` in cli.ini, saved in the
renewal conf) is a comma-separated list of ``USER[:GROUP]`` (all plugins)
and ``PLUGIN=USER[:GROUP]`` (one plugin) entries; a per-plugin entry beats
the global one, which beats the manifest's ``[sandbox] user`` default.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from certkernel import errors
from certkernel.lock import DEFAULT_TIMEOUT, wait_exclusive
from certkernel.plugin_host.manifest import Manifest

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


def ensure_account(name: str = ACCOUNT, *, lock_timeout: float = DEFAULT_TIMEOUT) -> SandboxUser:
    """The unprivileged system account for plugins, created once if missing.

    Why a lock and a retry: two certkernel runs (renew from cron while an
    operator runs certonly) may both find the account missing. They take
    an ``flock`` on /etc/passwd (opened read-only; useradd's own lock is a
    different one, so nothing deadlocks), look again, and only then run
    ``useradd``; if that still fails because someone else created the
    account meanwhile, the lookup afterwards finds it. The wait for that lock
    is bounded by ``lock_timeout`` (the run's ``Config.lock_timeout``) and
    names the holder (from ``/proc/locks``) when it runs out.
    """
    import subprocess

    source = "the plugin account"
    try:
        return lookup_user(name, source)
    except errors.ConfigurationError:
        pass
    fd = os.open("/etc/passwd", os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        try:
            wait_exclusive(fd, lock_timeout, f"the creation of the account {name}",
                           "/etc/passwd")
        except errors.LockError as exc:
            raise errors.ConfigurationError(str(exc)) from None
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


def owner_of(roots: Sequence[str]) -> tuple[SandboxUser | None, str]:
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


def me() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
