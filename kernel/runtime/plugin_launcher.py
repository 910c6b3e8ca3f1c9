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
import threading
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, replace
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
from certkernel.runtime.per_domain_values import (
    PerDomainAuthenticator,
    PerDomainValues,
    covers,
    shared_options,
    sharing_key,
    widened,
)
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


@dataclass(frozen=True)
class _Slot:
    """Where one lineage's (or the run's) plugin runs: its process key and sandbox."""

    key: str
    decision: Decision | None = None  # None: decided when the process starts
    share: str | None = None  # per_domain_values.sharing_key, for plugins that may share


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
        self._decisions: dict[str, Decision] = {}  # process key -> how it was sandboxed
        self._shared: dict[str, str] = {}  # sharing key -> key of the process lineages share
        self._expected: list[Config] = []
        self._recovering = threading.Lock()
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

    def expect(self, configs: Iterable[Config]) -> None:
        """The lineage configs this run will start plugins with (``renew``).

        A plugin that takes per-domain values from challenges serves every
        lineage that differs only in those values from one process; that
        process is confined once, at start, so it gets the write roots of
        all the expected lineages it will serve (see per_domain_values).
        """
        self._expected = list(configs)

    def _state_dir(self, name: str) -> str:
        return os.path.join(self.config.work_dir, "plugins", name)

    def _slot(self, name: str, role: str, config: Config | None) -> _Slot:
        """The process a lineage's plugin runs in: an existing one it may share, or its own."""
        if config is None:
            return _Slot(name)
        manifest = self.manifest(name, role)
        options = config.plugin_options(manifest)
        served = {k: v for k, v in settings_for(config).items() if k in SERVED_SETTINGS}
        own = _process_key(name, options, served)
        if not manifest.per_domain_from_challenge:
            return _Slot(own)
        decision = self._decide(manifest, config, options, self._state_dir(name))
        share = sharing_key(manifest, options, served, decision)
        running = self._shared.get(share or "")
        if running in self._processes and covers(self._decisions[running], decision):
            return _Slot(running, decision, share)
        return _Slot(own, decision, share)

    def _start(self, slot: _Slot, name: str, role: str, config: Config | None) -> PluginProcess:
        """The running process for plugin ``name`` in ``slot`` (started once per run).

        With ``config`` (``renew``: one lineage's config), the options come
        from it and the process is keyed by (name, options), so lineages
        with the same options share one process and others get their own;
        a plugin declaring ``[needs] per_domain_from_challenge`` is keyed
        without its per-domain options (:func:`sharing_key`, :meth:`_slot`).
        """
        key = slot.key
        if key in self._processes:
            return self._processes[key]
        manifest = self.manifest(name, role)
        # A lineage's saved settings (http01_port, http01_address, https_port...)
        # decide where it is served, not the run's defaults.
        cfg = config or self.config
        settings = settings_for(cfg)
        options = cfg.plugin_options(manifest)
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
        state_dir = self._state_dir(name)
        decision = slot.decision or self._decide(manifest, cfg, options, state_dir)
        if slot.share is not None and slot.share not in self._shared:
            decision = self._for_group(slot, manifest, role, cfg, decision)
        logger.debug("Plugin %s runs as %s", manifest.name, decision.why)
        if self._storage is None and not self.config.dry_run:
            self._storage = _StorageAdapter(self.config.config_dir, self.config.lock_timeout)
        roots = self._roots(manifest, options)
        services = KernelServices(
            name,
            display=self.display,
            storage=self._storage,
            checkpoints=self.checkpoints,
            roots=roots,
            installer=installer_record(manifest, options) if roots else None,
            challenges=self._desk(key, manifest),
        )
        process = start_plugin(
            manifest,
            services.handle,
            options=options if slot.share is None else shared_options(manifest, options),
            secrets=secrets,
            settings=settings,
            state_dir=state_dir,
            fds=fds,
            user=decision.user,
            limits=decision.limits,
            on_progress=self.on_progress,
            confine=decision.confine,
        )
        logger.debug("Started plugin %s (pid %d)", name, process.popen.pid)
        self._stack.callback(process.close)
        self._processes[key] = process
        self._decisions[key] = decision
        if slot.share is not None:
            self._shared.setdefault(slot.share, key)
        return process

    def _for_group(self, slot: _Slot, manifest: Manifest, role: str, config: Config,
                   own: Decision) -> Decision:
        """The sandbox for a shared process: room for every expected lineage it will serve.

        Only lineages with the same sharing key count; should the widened
        roots change who the plugin runs as, it keeps its own decision and
        the others get processes of their own (``covers`` fails for them).
        """
        options = config.plugin_options(manifest)
        others = []
        for other in self._expected:
            try:
                if self._slot(manifest.name, role, other).share == slot.share:
                    others.append(other.plugin_options(manifest))
            except errors.Error as exc:  # that lineage fails on its own turn, with this error
                logger.debug("Not sharing %s with a lineage: %s", manifest.name, exc)
        if not others:
            return own
        served = {k: v for k, v in settings_for(config).items() if k in SERVED_SETTINGS}
        wide = self._decide(manifest, config, widened(manifest, options, others),
                            self._state_dir(manifest.name))
        return wide if sharing_key(manifest, options, served, wide) == slot.share else own

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

    def _restart(self, slot: _Slot, name: str, role: str, config: Config | None) -> PluginProcess:
        """A fresh process in ``slot`` after the previous one died or was stopped."""
        old = self._processes.pop(slot.key, None)
        if old is not None:
            old.kill()
        if slot.key in self._decisions:  # a shared process keeps the room all its lineages need
            slot = replace(slot, decision=self._decisions[slot.key])
        self._prepared.discard(slot.key)
        logger.info("Starting plugin %s again to clean up after its process ended", name)
        return self._start(slot, name, role, config)

    def authenticator(self, name: str, config: Config | None = None) -> RemoteAuthenticator:
        slot = self._slot(name, "authenticator", config)
        process = self._start(slot, name, "authenticator", config)
        manifest = self.manifest(name, "authenticator")
        values = PerDomainValues.of(manifest, (config or self.config).plugin_options(manifest))
        fresh = self._recovery(slot, name, config)
        if not _alive(process):  # it died serving an earlier lineage: this one gets a new one
            process = fresh()
        desk = self._desks.get(slot.key)
        auth = (RecoveringAuthenticator(process, fresh, self.checkpoints, desk) if values is None
                else PerDomainAuthenticator(process, fresh, self.checkpoints, values, desk))
        self._prepare_once(slot.key, auth)
        return auth

    def installer(self, name: str, config: Config | None = None) -> RemoteInstaller:
        slot = self._slot(name, "installer", config)
        inst = FinalizingInstaller(self._start(slot, name, "installer", config), self.checkpoints)
        self._prepare_once(slot.key, inst)
        return inst

    def _recovery(self, slot: _Slot, name: str,
                  config: Config | None) -> Callable[[], PluginProcess]:
        """What a recovering authenticator calls for a fresh, prepared process.

        Lineages sharing a process each notice its death: the first one
        restarts it, the others get that new process.
        """
        def fresh() -> PluginProcess:
            with self._recovering:
                current = self._processes.get(slot.key)
                if current is not None and _alive(current) and slot.key in self._prepared:
                    return current
                process = self._restart(slot, name, "authenticator", config)
                RemoteAuthenticator(process).prepare()
                self._prepared.add(slot.key)
                return process
        return fresh

    def close(self) -> None:
        self._stack.close()
        self._processes.clear()

    def __enter__(self) -> PluginLauncher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _alive(process: PluginProcess) -> bool:
    return not process.closed and process.popen.poll() is None


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
