"""Start a plugin from its manifest and shake hands with it.

This is the one place that turns a manifest plus run-time choices (option
values, secrets, settings, handed-over sockets, the user to run as) into a
live, initialized :class:`PluginProcess`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from certkernel import __version__
from certkernel.plugin_host.landlock import Policy
from certkernel.plugin_host.manifest import Manifest
from certkernel.plugin_host.process import Handler, PluginProcess
from certkernel.plugin_host.sandbox import SandboxUser, check_access, limits_for
from certkernel.plugin_host.spawn import LaunchPlan, Limits, build_env

_log = logging.getLogger("certkernel.plugins")


def plan_for(
    manifest: Manifest,
    *,
    state_dir: str | None = None,
    fds: Mapping[str, Sequence[int]] | None = None,
    user: int | None = None,
    group: int | None = None,
    limits: Limits | None = None,
) -> LaunchPlan:
    """The launch plan for ``manifest`` with these run-time choices."""
    pass_fds = tuple(fd for fds_ in (fds or {}).values() for fd in fds_)
    return LaunchPlan(
        name=manifest.name,
        argv=manifest.argv(),
        env=build_env(manifest.name, manifest.protocol_versions, manifest.env, home=state_dir),
        cwd=state_dir,
        pass_fds=pass_fds,
        user=user,
        group=group,
        limits=limits if user is not None else None,
        protocol_versions=tuple(manifest.protocol_versions) or (1,),
        timeouts=dict(manifest.timeouts),
    )


def start_plugin(
    manifest: Manifest,
    handler: Handler,
    *,
    options: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
    state_dir: str | None = None,
    fds: Mapping[str, Sequence[int]] | None = None,
    user: int | None = None,
    group: int | None = None,
    limits: Limits | None = None,
    logger: logging.Logger | None = None,
    on_progress: Callable[[str, dict[str, Any]], None] | None = None,
    confine: Policy | None = None,
) -> PluginProcess:
    """Spawn the plugin and complete ``initialize``; the caller owns ``close()``.

    With another ``user``, the manifest's limits apply (unless ``limits`` is
    given) and every path the plugin needs is checked for that user first.
    With ``confine``, the process is put under that Landlock policy before exec.
    """
    if state_dir is not None:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
    if user is not None:
        limits = limits if limits is not None else limits_for(manifest)
        target = _sandbox_user(user, group)
        group = target.gid  # never keep the kernel's gid (root's) by accident
        preview = plan_for(manifest, state_dir=state_dir, user=user, group=group)
        check_access(manifest, preview.argv, preview.env, target, state_dir=state_dir)
    if state_dir is not None:
        if user is not None:
            os.chown(state_dir, user, group if group is not None else -1)
    plan = plan_for(
        manifest, state_dir=state_dir, fds=fds, user=user, group=group, limits=limits
    )
    ruleset = None
    if confine is not None:
        from dataclasses import replace

        from certkernel.plugin_host.landlock import build

        ruleset = build(confine)
        plan = replace(plan, confine_fd=ruleset.fd)
        (logger or _log).debug("plugin %s confined: writes under %s; %s", manifest.name,
                               ", ".join(ruleset.paths), ruleset.network)
    try:
        process = PluginProcess(plan, handler, logger or _log, on_progress)
    finally:
        if ruleset is not None:
            os.close(ruleset.fd)
    try:
        process.handshake(
            {
                "kernel_version": __version__,
                "name": manifest.name,
                "options": dict(options or {}),
                "secrets": dict(secrets or {}),
                "settings": dict(settings or {}),
                "state_dir": state_dir or "",
                "fds": {k: list(v) for k, v in (fds or {}).items()},
            }
        )
    except BaseException:
        process.kill()
        raise
    return process


def _sandbox_user(uid: int, gid: int | None) -> SandboxUser:
    """Names for messages about a uid/gid pair chosen by the caller."""
    import grp
    import pwd

    try:
        pw = pwd.getpwuid(uid)
        name, default_gid = pw.pw_name, pw.pw_gid
    except KeyError:
        name, default_gid = str(uid), uid
    group = default_gid if gid is None else gid
    try:
        group_name = grp.getgrgid(group).gr_name
    except KeyError:
        group_name = str(group)
    return SandboxUser(uid=uid, gid=group, name=name, group=group_name)
