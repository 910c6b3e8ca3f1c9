"""Starting the plugins a command needs, equipped from the resolved Config.

The kernel decides what a plugin receives: its typed options, the values of
its credential files (plugin_secrets.py), run-wide settings, a private state
directory, the http-01 sockets it bound on the plugin's behalf
(http01_sockets.py), and the user and limits to run as (the sandbox's
decision, passed on typed). A plugin that is both the authenticator and the
installer runs as one process.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from certkernel import errors
from certkernel.config import Config
from certkernel.display import Display
from certkernel.fleet.challenge_board import board_for
from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.manifest import Manifest
from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.proxies import RemoteAuthenticator, RemoteInstaller
from certkernel.plugin_host.roots import check_roots, resolve_roots
from certkernel.plugin_host.sandbox import Decision, decide
from certkernel.plugin_host.sandbox_paths import make_placed
from certkernel.plugin_host.services import Checkpoints, KernelServices
from certkernel.runtime.challenge_desk import ChallengeDesk
from certkernel.runtime.http01_sockets import bind_http01
from certkernel.runtime.plugin_recovery import FinalizingInstaller, RecoveringAuthenticator
from certkernel.runtime.plugin_secrets import read_secrets
from certkernel.runtime.plugin_storage import PluginStorage

logger = logging.getLogger(__name__)


def settings_for(config: Config) -> dict[str, Any]:
    return {
        "dry_run": config.dry_run,
        "non_interactive": config.noninteractive_mode or config.quiet,
        "staging": config.staging,
        "http01_port": config.http01_port,
        "http01_address": config.http01_address,
        "https_port": config.https_port,
        "debug_challenges": config.debug_challenges,
        "verbosity": config.verbose_count,
        "config_dir": config.config_dir,
        "work_dir": config.work_dir,
        "logs_dir": config.logs_dir,
        "redirect": config.redirect,
        "hsts": config.hsts,
        "uir": config.uir,
        "staple": config.staple,
    }


class _StorageAdapter:
    """certkernel.runtime.plugin_storage.PluginStorage behind the host's Storage protocol."""

    def __init__(self, config_dir: str, lock_timeout: float) -> None:
        self.inner = PluginStorage(config_dir, lock_timeout=lock_timeout)

    def get(self, plugin: str, key: str) -> tuple[bool, Any]:
        missing = object()
        value = self.inner.get(plugin, key, missing)
        return (value is not missing, None if value is missing else value)

    def put(self, plugin: str, key: str, value: Any) -> None:
        self.inner.put(plugin, key, value)

    def delete(self, plugin: str, key: str) -> None:
        self.inner.delete(plugin, key)


class PluginLauncher:
    """Starts plugins for one command run; closes them all at the end."""

    def __init__(
        self,
        config: Config,
        display: Display | None = None,
        checkpoints: Checkpoints | None = None,
        on_progress: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config
        self.display = display
        self.checkpoints = checkpoints
        self.on_progress = on_progress
        self._stack = ExitStack()
        self._processes: dict[str, PluginProcess] = {}
        self._storage: _StorageAdapter | None = None
        self._prepared: set[str] = set()
        self._fds: dict[str, dict[str, list[int]]] = {}
        self._desks: dict[str, ChallengeDesk] = {}

    def manifest(self, name: str, role: str) -> Manifest:
        manifest = self.config.manifests.get(name)
        if manifest is None:
            known = ", ".join(sorted(self.config.manifests)) or "none"
            raise errors.ConfigurationError(
                f"The requested {name} plugin does not appear to be installed "
                f"(installed plugins: {known})"
            )
        if role not in manifest.roles:
            raise errors.ConfigurationError(f"The {name} plugin is not an {role}")
        return manifest

    def _decide(self, manifest: Manifest, config: Config, options: dict[str, Any],
                state_dir: str) -> Decision:
        """Least privilege for this run: --plugin-user, else what the manifest declares."""
        decision = decide(manifest, config.plugin_user, options, work_dir=self.config.work_dir,
                          config_dir=self.config.config_dir, state_dir=state_dir,
                          lock_timeout=self.config.lock_timeout)
        if decision.confine is not None:
            make_placed(manifest, self.config.work_dir, self.config.config_dir)
        logger.debug("Plugin %s runs as %s", manifest.name, decision.why)
        return decision

    def _roots(self, manifest: Manifest, options: dict[str, Any]) -> list[str]:
        """The directories this plugin may have the kernel checkpoint (its manifest's roots).

        None of them may overlap the kernel's config, work or logs dir: keys,
        checkpoints and every plugin's state directory live there.
        """
        roots = resolve_roots(manifest, options)
        check_roots(manifest, roots, {"--config-dir": self.config.config_dir,
                                      "--work-dir": self.config.work_dir,
                                      "--logs-dir": self.config.logs_dir})
        return roots

    def start(self, name: str, role: str, config: Config | None = None) -> PluginProcess:
        """The running process for plugin ``name`` (started once per run).

        With ``config`` (``renew``: one lineage's config), the options come
        from it and the process is keyed by (name, options), so lineages
        with the same options share one process and others get their own.
        """
        key = self._key(name, role, config)
        if key in self._processes:
            return self._processes[key]
        manifest = self.manifest(name, role)
        # A lineage's saved settings (http01_port, http01_address, https_port...)
        # decide where it is served, not the run's defaults.
        settings = settings_for(config or self.config)
        options = (config or self.config).plugin_options(manifest)
        secrets = read_secrets(manifest, options)
        fds = self._fds.get(key)
        if fds is None:
            fds = {}
            if manifest.needs.get("http01_sockets"):
                sockets = bind_http01(settings["http01_port"], settings["http01_address"])
                for sock in sockets:
                    self._stack.callback(sock.close)
                fds["http01_sockets"] = [s.fileno() for s in sockets]
            self._fds[key] = fds  # a restarted plugin gets the same sockets
        state_dir = os.path.join(self.config.work_dir, "plugins", name)
        decision = self._decide(manifest, config or self.config, options, state_dir)
        if self._storage is None and not self.config.dry_run:
            self._storage = _StorageAdapter(self.config.config_dir, self.config.lock_timeout)
        roots = self._roots(manifest, options)
        desk = self._desk(key, manifest)
        services = KernelServices(
            name,
            display=self.display,
            storage=self._storage,
            checkpoints=self.checkpoints,
            roots=roots,
            installer=installer_record(manifest, options) if roots else None,
            challenges=desk,
        )
        process = start_plugin(
            manifest,
            services.handle,
            options=options,
            secrets=secrets,
            settings=settings,
            state_dir=state_dir,
            fds=fds,
            user=decision.user,
            limits=decision.limits,
            on_progress=self.on_progress,
            confine=decision.confine,
        )
        self._stack.callback(process.close)
        self._processes[key] = process
        return process

    def _desk(self, key: str, manifest: Manifest) -> ChallengeDesk | None:
        """The challenge desk of a plugin that declares ``[needs] challenge_board``
        (one per process key: a restarted process keeps what the dead one published)."""
        if not manifest.challenge_board:
            return None
        desk = self._desks.get(key)
        if desk is None:
            desk = self._desks[key] = ChallengeDesk(board_for(self.config), manifest.name)
        return desk

    def _prepare_once(self, key: str, plugin: RemoteAuthenticator | RemoteInstaller) -> None:
        if key not in self._prepared:
            plugin.prepare()
            self._prepared.add(key)

    def _key(self, name: str, role: str, config: Config | None) -> str:
        if config is None:
            return name
        served = {k: v for k, v in settings_for(config).items() if k in SERVED_SETTINGS}
        return _process_key(name, config.plugin_options(self.manifest(name, role)), served)

    def restart(self, name: str, role: str, config: Config | None = None) -> PluginProcess:
        """A fresh process for ``name`` after the previous one died or was stopped."""
        key = self._key(name, role, config)
        old = self._processes.pop(key, None)
        if old is not None:
            old.kill()
        self._prepared.discard(key)
        logger.info("Starting plugin %s again to clean up after its process ended", name)
        return self.start(name, role, config)

    def authenticator(self, name: str, config: Config | None = None) -> RemoteAuthenticator:
        process = self.start(name, "authenticator", config)
        auth = RecoveringAuthenticator(process, self._recovery(name, config), self.checkpoints,
                                       self._desks.get(self._key(name, "authenticator", config)))
        self._prepare_once(self._key(name, "authenticator", config), auth)
        return auth

    def installer(self, name: str, config: Config | None = None) -> RemoteInstaller:
        inst = FinalizingInstaller(self.start(name, "installer", config), self.checkpoints)
        self._prepare_once(self._key(name, "installer", config), inst)
        return inst

    def _recovery(self, name: str, config: Config | None) -> Callable[[], PluginProcess]:
        """What a recovering authenticator calls for a fresh, prepared process."""
        def fresh() -> PluginProcess:
            process = self.restart(name, "authenticator", config)
            RemoteAuthenticator(process).prepare()
            self._prepared.add(self._key(name, "authenticator", config))
            return process
        return fresh

    def close(self) -> None:
        self._stack.close()
        self._processes.clear()

    def __enter__(self) -> PluginLauncher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def installer_record(manifest: Manifest, options: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint records about the plugin that made it: renewal-conf keys.

    ``certkernel rollback`` reads it back through ``Config.with_renewal_conf``
    to restart the same server with the same options, no flags needed.
    """
    record: dict[str, Any] = {"installer": manifest.name}
    for opt in manifest.options:
        value = options.get(opt.name)
        if value is not None:
            record[opt.dest] = value
    return record


# Per-lineage settings that decide where a plugin serves or edits: a lineage
# saved with another http-01 port (or address, or HTTPS port) needs a process,
# and sockets, of its own. Other settings (redirect, hsts...) do not split
# processes: two standalone processes would both try to bind port 80.
SERVED_SETTINGS = ("http01_port", "http01_address", "https_port")


def _process_key(name: str, options: dict[str, Any], served: dict[str, Any]) -> str:
    """``name`` plus its options and where it serves (renew: one process per distinct set)."""
    return name + "\0" + json.dumps([options, served], sort_keys=True, default=str)
