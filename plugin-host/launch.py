"""Start a plugin from its manifest and shake hands with it.

This is the one place that turns a manifest plus run-time choices (option
values, secrets, settings, handed-over sockets, the user to run as) into a
live, initialized :class:`PluginProcess`.

State directories and working directories are never shared between users:
a run as the kernel's own user (root) uses ``<work-dir>/plugins/<name>``,
which must be the kernel's and writable by nobody else, and a run as uid N
uses ``<work-dir>/plugins/<name>.uid-N``, handed to that user. Otherwise a
sandboxed plugin could leave a module in the folder that the next root run
starts in, and Python (``-m`` puts the working directory first on
``sys.path``) would import it as root. ``{python}`` commands also get
``-P -s`` (and every plugin ``PYTHONSAFEPATH=1``) so neither the working
directory nor a user site-packages under ``HOME`` is ever on ``sys.path``.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from certkernel.log import register_secret
from certkernel.plugin_host.landlock import Policy, build
from certkernel.plugin_host.manifest import Manifest, env_is_secret
from certkernel.plugin_host.process import Handler, PluginProcess
from certkernel.plugin_host.sandbox_access import check_access
from certkernel.plugin_host.sandbox_users import SandboxUser
from certkernel.plugin_host.spawn import LaunchPlan, Limits, build_env
from certkernel.protocol import methods as wire
from certkernel.version import __version__

_log = logging.getLogger("certkernel.plugins")


def plan_for(
    manifest: Manifest,
    *,
    state_dir: str | None = None,
    fds: Mapping[str, Sequence[int]] | None = None,
    user: SandboxUser | None = None,
    limits: Limits | None = None,
) -> LaunchPlan:
    """The launch plan for ``manifest`` with these run-time choices.

    ``user`` None: the kernel's own user, and no limits (they are for
    plugins that run as someone else).
    """
    pass_fds = tuple(fd for fds_ in (fds or {}).values() for fd in fds_)
    argv = manifest.argv()
    if manifest.command[:1] == ("{python}",):
        # Never the working directory, nor a user site under HOME, on sys.path.
        argv[1:1] = ["-P", "-s"]
    return LaunchPlan(
        name=manifest.name,
        argv=argv,
        env=build_env(manifest.name, manifest.protocol_versions, manifest.env, home=state_dir),
        cwd=state_dir,
        pass_fds=pass_fds,
        user=user.uid if user is not None else None,
        group=user.gid if user is not None else None,
        limits=limits if user is not None else None,
        protocol_versions=tuple(manifest.protocol_versions) or (1,),
        timeouts=dict(manifest.timeouts),
        keep_services=bool(manifest.needs.get("starts_services")) and user is None,
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
    user: SandboxUser | None = None,
    limits: Limits | None = None,
    logger: logging.Logger | None = None,
    on_progress: Callable[[str, dict[str, Any]], None] | None = None,
    confine: Policy | None = None,
) -> PluginProcess:
    """Spawn the plugin and complete ``initialize``; the caller owns ``close()``.

    ``user`` and ``limits`` are used as given (the sandbox's decision,
    :func:`certkernel.plugin_host.sandbox.decide`): with another ``user``,
    every path the plugin needs is checked for that user first, and
    ``limits`` (None: none) apply. ``state_dir`` is the base name; the
    folder used depends on the user (see the module docstring) and is what
    the plugin receives. With ``confine``, the process is put under that
    Landlock policy before exec.
    """
    _redact_env(manifest)
    uid = user.uid if user is not None else None
    if state_dir is not None:
        state_dir = state_dir_for(state_dir, uid)
        os.makedirs(os.path.dirname(state_dir), mode=0o755, exist_ok=True)
        if user is None:
            _own_state_dir(state_dir)
    if user is not None:
        preview = plan_for(manifest, state_dir=state_dir, user=user)
        check_access(manifest, preview.argv, preview.env, user, state_dir=state_dir)
        if state_dir is not None:
            _user_state_dir(state_dir, user.uid, user.gid)
    plan = plan_for(manifest, state_dir=state_dir, fds=fds, user=user, limits=limits)
    ruleset = None
    if confine is not None:
        from dataclasses import replace

        ruleset = build(confine)
        plan = replace(plan, confine_fd=ruleset.fd)
        (logger or _log).debug("plugin %s confined: writes under %s; %s", manifest.name,
                               ", ".join(ruleset.paths), ruleset.network)
    try:
        process = PluginProcess(plan, handler, logger or _log, on_progress).start()
    finally:
        if ruleset is not None:
            os.close(ruleset.fd)
    try:
        process.handshake(
            wire.InitializeParams(
                protocol_versions=list(manifest.protocol_versions),
                kernel_version=__version__,
                name=manifest.name,
                options=dict(options or {}),
                secrets=dict(secrets or {}),
                settings=dict(settings or {}),
                state_dir=state_dir or "",
                fds={k: list(v) for k, v in (fds or {}).items()},
            )
        )
    except BaseException:
        process.kill()
        raise
    return process


def _redact_env(manifest: Manifest, source: Mapping[str, str] | None = None) -> None:
    """Register the credentials the plugin gets from the environment with the log filter.

    They are redacted like the contents of credential files: a plugin that
    echoes its token, or fails with it in the message, leaves ``***``.
    """
    source = os.environ if source is None else source
    for key in manifest.env:
        value = source.get(key, "")
        if value and env_is_secret(key):
            register_secret(value)


def state_dir_for(base: str, user: int | None) -> str:
    """The state (and working) directory of a run as ``user`` (None: the kernel's user)."""
    if user is None or user == os.geteuid():
        return base
    return f"{base}.uid-{user}"


def _own_state_dir(path: str) -> None:
    """Make ``path`` a directory only the kernel's user can change.

    A folder owned by anyone else, or writable by others, may hold files
    planted by that user (an older certkernel handed ``<name>`` to the
    sandbox user): it is moved aside, never used, and a fresh one is made.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        os.mkdir(path, 0o700)
        return
    me = os.geteuid()
    if stat.S_ISDIR(st.st_mode) and st.st_uid == me and not st.st_mode & 0o022:
        return
    aside = f"{path}.untrusted-{st.st_uid}-{time.time_ns()}"
    os.rename(path, aside)
    _log.warning("plugin state folder %s belonged to uid %d or was writable by others; "
                 "moved it to %s and started a fresh one (a plugin running as %s must not "
                 "use files another user could plant)", path, st.st_uid, aside,
                 "root" if me == 0 else f"uid {me}")
    os.mkdir(path, 0o700)


def _user_state_dir(path: str, uid: int, gid: int) -> None:
    """Create ``path`` for the plugin's user (the parent stays the kernel's)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, gid)
    finally:
        os.close(fd)
