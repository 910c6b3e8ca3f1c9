"""Who a plugin runs as, confined to what, with which limits: :func:`decide`.

Who by default (least privilege, when the kernel runs as root): a plugin
whose manifest asks for nothing runs as the system account ``_certkernel``,
created on first use; ``[sandbox] privilege = "owner"`` runs as the owner of
the roots its options name (webroot: the web root's owner) or, when they are
root-owned or have different owners, as root confined by Landlock;
``privilege = "root"`` (with a ``reason``) runs as root, confined by
Landlock to what its ``[confine]`` table declares.

The parts live beside it: user specs and the plugin account in
:mod:`certkernel.plugin_host.sandbox_users`, write roots and runtime paths in
:mod:`certkernel.plugin_host.sandbox_paths`, the target user's access check
in :mod:`certkernel.plugin_host.sandbox_access`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from certkernel import errors
from certkernel.lock import DEFAULT_TIMEOUT
from certkernel.plugin_host.landlock import Policy, abi_version
from certkernel.plugin_host.manifest import Manifest
from certkernel.plugin_host.sandbox_paths import runtime_paths, write_roots
from certkernel.plugin_host.sandbox_users import (
    ACCOUNT,
    SandboxUser,
    choose_user,
    ensure_account,
    lookup_user,
    me,
    owner_of,
    resolve_for,
)
from certkernel.plugin_host.spawn import Limits

_MIB = 1024 * 1024
_log = logging.getLogger("certkernel.plugins")


# -- least privilege by default -------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """How one plugin runs in this run: as whom, confined to what, and why (for people)."""

    user: SandboxUser | None  # None: the kernel's own user
    confine: Policy | None  # a Landlock policy (root runs of plugins declaring [confine])
    why: str
    unconfined_note: str = ""  # set when confinement was wanted but Landlock is missing
    limits: Limits | None = None  # the manifest's [sandbox] limits, set when user is set


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
    lock_timeout: float = DEFAULT_TIMEOUT,
) -> Decision:
    """Who ``manifest``'s plugin runs as in this run, how it is confined and limited.

    Order: an explicit ``--plugin-user`` (``root`` is the opt-out: root,
    unconfined), the manifest's ``[sandbox] user``, then the manifest's
    ``privilege``. A kernel that is not root runs every plugin as itself.
    A plugin that runs as another user gets the manifest's limits.
    Creating the account waits at most ``lock_timeout`` for another run
    creating it (the kernel passes ``Config.lock_timeout``).
    """
    decision = _chosen_user(manifest, configured)
    if decision is None and os.geteuid() != 0:
        decision = Decision(None, None, f"{me()} (the user running certkernel; only root "
                            "switches plugins to other users)")
    if decision is None and manifest.privilege == "unprivileged":
        decision = _unprivileged(create_account, lock_timeout)
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


def _unprivileged(create_account: bool, lock_timeout: float) -> Decision:
    """A plugin that needs no root runs as certkernel's own unprivileged account."""
    try:
        user = (ensure_account(lock_timeout=lock_timeout) if create_account
                else lookup_user(ACCOUNT, ""))
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
        owner, why_not = owner_of(roots)
        if owner is not None:
            return Decision(owner, None, f"{owner.name}:{owner.group} (owner of "
                            f"{', '.join(roots)})")
        head = f"root ({why_not}; {manifest.privilege_reason})"
    else:
        head = f"root ({manifest.privilege_reason})"
    if manifest.confine is None:
        return Decision(None, None, f"{head}; not confined: its manifest declares no [confine]")

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


def summary(user: SandboxUser | None, limits: Limits | None) -> dict[str, Any]:
    """Loggable description of a plugin's sandbox (for debug logs)."""
    if user is None:
        return {"user": "kernel"}
    return {
        "user": user.describe(),
        "max_memory_mb": (limits.max_memory // _MIB) if limits and limits.max_memory else None,
        "max_files": limits.max_files if limits else None,
    }
