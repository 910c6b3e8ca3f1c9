"""Renewing the due lineages of one ``renew`` run, concurrently.

Why a runner object: everything expensive is shared across lineages and
made once per run — one plugin process per (plugin, options), one ACME
directory fetch and account load per (server, account) — while each
lineage gets its own Config (its renewal conf under the command line), its
own lock, and its own result. Lineages run on a bounded thread pool; the
work is network and subprocess I/O, and plugin calls are serialized per
process by the RPC endpoint.

Each lineage is locked, then re-read and re-checked: another run may have
renewed it while this one waited for the lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certkernel import errors
from certkernel.ca.acme_setup import effective_server, open_account
from certkernel.config import Config
from certkernel.display import Display
from certkernel.flows.obtain import obtain, renewal_params
from certkernel.lineages.named_lineage import lineage_config
from certkernel.renewal.renew_result import Result, Status
from certkernel.renewal.renewal_plan import wanted
from certkernel.runtime import deploy

if TYPE_CHECKING:
    import pluggy

    from certkernel.ca.acme_setup import AccountSession
    from certkernel.interfaces import CheckpointStore, Installer, LineageStore
    from certkernel.lineages.storage import Lineage
    from certkernel.runtime.plugin_runtime import PluginLauncher

logger = logging.getLogger(__name__)


@dataclass
class _Renewed:
    """A renewed lineage waiting for its installer, with what its deploy hooks need."""

    config: Config
    lineage: Lineage
    names: list[str]


@dataclass
class _Deployment:
    installer: Installer
    config: Config
    renewed: list[_Renewed] = field(default_factory=list)


class RenewalRunner:
    """Renews lineages; shares plugin processes and ACME sessions between them."""

    def __init__(self, config: Config, display: Display, launcher: PluginLauncher,
                 events: pluggy.PluginManager,
                 progress: Callable[[str], None] | None = None,
                 checkpoints: CheckpointStore | None = None,
                 notify: Callable[[str], None] | None = None, *,
                 store: LineageStore) -> None:
        self.config = config
        self.display = display
        self.launcher = launcher
        self.events = events
        self.store = store
        self.progress = progress
        self.checkpoints = checkpoints
        self.notify = notify
        self._auth_locks: dict[str, threading.Lock] = {}
        # Never shut down explicitly: the thread must outlive the plugin processes
        # (closed by the launcher); it idles and is joined at interpreter exit.
        self._starter = ThreadPoolExecutor(1, thread_name_prefix="plugin-start")
        self._plugins_lock = threading.Lock()
        self._accounts_lock = threading.Lock()
        self._accounts: dict[tuple[str, str], AccountSession] = {}
        self._deploy_lock = threading.Lock()
        self._deployments: dict[int, _Deployment] = {}

    # -- shared resources -----------------------------------------------------
    def _start(self, starter: Callable[[str, Config], Any], name: str, cfg: Config) -> Any:
        """Start (or reuse) a plugin from the run-long starter thread.

        Plugins die with the *thread* that spawned them (``PR_SET_PDEATHSIG``
        follows the parent thread on Linux), and the pool's threads end
        before the installers are used in :meth:`deploy_all`.
        """
        with self._plugins_lock:
            return self._starter.submit(starter, name, cfg).result()

    def _authenticator(self, name: str, cfg: Config) -> Any:
        return self._start(self.launcher.authenticator, name, cfg)

    def _installer(self, name: str, cfg: Config) -> Installer:
        installer: Installer = self._start(self.launcher.installer, name, cfg)
        return installer

    def _account(self, cfg: Config) -> AccountSession:
        """One session per (server, account) per run: one directory fetch, one key load."""
        key = (effective_server(cfg), cfg.account or "")
        with self._accounts_lock:
            found = self._accounts.get(key)
            if found is None:
                # open_account registers (dry run only) under the account lock
                found = open_account(cfg, self.display, create=bool(cfg.dry_run))
                self._accounts[key] = found
            return found

    # -- one lineage ----------------------------------------------------------
    def renew(self, lineage: Lineage, index: int, total: int) -> Result:
        """Renew one lineage under its lock; never raises for a lineage-level failure."""
        lock = self.store.lock(lineage.name)
        try:
            lock.acquire()
        except errors.LockError as exc:
            return self._failed(self.config, lineage.name, lineage.fullchain_path, [], str(exc))
        try:
            return self._renew_locked(lineage, index, total)
        finally:
            lock.release()

    def _renew_locked(self, stale: Lineage, index: int, total: int) -> Result:
        names: list[str] = []
        cfg = self.config
        try:
            # The plan was made before the lock was ours: re-read, and leave a
            # lineage another run renewed meanwhile (unless renewal is forced).
            lineage = self.store.load(stale.name)
            renew, _why = wanted(self.config, lineage, self.store.now())
            moved_on = (lineage.version != stale.version and not self.config.renew_by_default
                        or self.store.renewed_elsewhere(lineage))
            if not renew or moved_on:
                logger.info("%s was renewed by another run meanwhile", lineage.name)
                return Result(lineage.name, Status.NOT_DUE, lineage.fullchain_path, lineage.names)
            names = list(lineage.names)
            cfg = lineage_config(self.config, lineage)
            if self.progress:
                self.progress(f"Renewing {lineage.name} ({index} of {total}): "
                              f"{', '.join(names)}")
            self._obtain(cfg, lineage, names)
        except errors.Error as exc:
            return self._failed(cfg, stale.name, stale.fullchain_path, names, str(exc))
        except Exception as exc:  # a bug must not stop the other lineages
            logger.error("Unexpected error renewing %s", stale.name, exc_info=True)
            return self._failed(cfg, stale.name, stale.fullchain_path, names,
                                f"unexpected error: {type(exc).__name__}: {exc}")
        return Result(lineage.name, Status.RENEWED, lineage.fullchain_path, names)

    def _obtain(self, cfg: Config, lineage: Lineage, names: list[str]) -> None:
        auth_name = cfg.authenticator or cfg.configurator
        if not auth_name:
            raise errors.ConfigurationError(
                f"{lineage.renewal_conf_path} names no authenticator; "
                "renew it once with certonly and -a PLUGIN")
        inst_name = cfg.installer if cfg.installer not in (None, "None", "") else None
        self.events.hook.before_obtain(config=cfg, names=names, lineage_name=lineage.name)
        authenticator = self._authenticator(auth_name, cfg)
        acct = self._account(cfg)
        params: dict[str, Any] = dict(lineage.renewalparams.as_dict())
        params.update(renewal_params(cfg, acct.account.id, acct.session.settings.server,
                                     auth_name, inst_name))
        with self._serialized(auth_name):
            obtained = obtain(cfg, acct, authenticator, names, lineage=lineage,
                              lineage_name=lineage.name, params=params, store=self.store)
        saved = obtained.lineage
        self.events.hook.lineage_renewed(config=cfg, lineage=saved, names=obtained.names,
                                         dry_run=cfg.dry_run)
        if saved is None:
            if cfg.dry_run and cfg.run_deploy_hooks:
                # --run-deploy-hooks: the test went well; hooks see the current certificate
                self.events.hook.lineage_deployed(config=cfg, lineage=lineage,
                                                  names=obtained.names)
            return
        if inst_name and not cfg.disable_renew_updates:
            # Deploy hooks run once the certificate is in the server (deploy_all).
            self._queue_deploy(inst_name, cfg, _Renewed(cfg, saved, list(obtained.names)))
            return
        self.events.hook.lineage_deployed(config=cfg, lineage=saved, names=obtained.names)

    def _serialized(self, auth_name: str) -> AbstractContextManager[object]:
        """One order at a time through an authenticator whose manifest asks for it.

        ``[needs] serialize`` (PROTOCOL.md §8): an authenticator that answers
        challenges with temporary server-config checkpoints, which a cleanup
        reverts all at once, would make a second order in flight lose its
        challenge.  Other authenticators run freely.
        """
        manifest = self.config.manifests.get(auth_name)
        if manifest is None or not manifest.serialize:
            return nullcontext()
        # Keyed by plugin name, not process: lineages with different saved
        # settings (http01_port...) get processes of their own, but may still
        # edit the same server's config.
        with self._plugins_lock:
            return self._auth_locks.setdefault(auth_name, threading.Lock())

    def _failed(self, cfg: Config, name: str, fullchain: str, names: list[str],
                reason: str) -> Result:
        logger.error("Failed to renew certificate %s with error: %s", name, reason)
        self.events.hook.renewal_failed(config=cfg, lineage_name=name, names=names,
                                        reason=reason)
        return Result(name, Status.FAILED, fullchain, names, reason)

    def deploy_synced(self, lineage: Lineage) -> None:
        """Deploy a lineage another host renewed (fleet mode), now in this host's ``live/``,
        as if it had been renewed here: the installer's ``renew_deploy`` (queued: one
        reload per installer in :meth:`deploy_all`), then the deploy hooks."""
        cfg = lineage_config(self.config, lineage)
        inst_name = cfg.installer if cfg.installer not in (None, "None", "") else None
        names = list(lineage.names)
        if inst_name and not cfg.disable_renew_updates:
            self._queue_deploy(inst_name, cfg, _Renewed(cfg, lineage, names))
            return
        self.events.hook.lineage_deployed(config=cfg, lineage=lineage, names=names)

    # -- installers -----------------------------------------------------------
    def _queue_deploy(self, inst_name: str, cfg: Config, renewed: _Renewed) -> None:
        installer = self._installer(inst_name, cfg)
        with self._deploy_lock:
            entry = self._deployments.setdefault(id(installer.process),
                                                 _Deployment(installer, cfg))
            entry.renewed.append(renewed)

    def deploy_all(self) -> dict[str, str]:
        """Put renewed certs into their servers: one save/test/reload per installer.

        The kernel's checkpoints are handed to :func:`deploy.redeploy`, so a
        failed deployment is restored from the kernel's copies even when the
        installer cannot undo it.  Deploy hooks (``lineage_deployed``) run
        for the lineages now served; a lineage whose deployment failed is
        reported as failed (``renewal_failed``: its names reach the post
        hooks' ``FAILED_DOMAINS``).  Returns lineage name -> reason.
        """
        failed: dict[str, str] = {}
        for entry in self._deployments.values():
            lineages = [item.lineage for item in entry.renewed]
            name = entry.installer.name
            try:
                with deploy.installer_locked(entry.config, name):
                    bad = deploy.redeploy(entry.config, entry.installer, lineages,
                                          rollback=self.checkpoints, notify=self.notify)
            except errors.Error as exc:
                bad = [lin.name for lin in lineages]
                logger.error("Deploying with %s failed: %s", name, exc)
            for item in entry.renewed:
                if item.lineage.name in bad:
                    reason = (f"renewed, but the {name} installer could not deploy it; the "
                              f"previous server configuration was kept (see the log, then run "
                              f"'certkernel install --cert-name {item.lineage.name}')")
                    failed[item.lineage.name] = reason
                    self.events.hook.renewal_failed(config=item.config,
                                                    lineage_name=item.lineage.name,
                                                    names=item.names, reason=reason)
                else:
                    self.events.hook.lineage_deployed(config=item.config, lineage=item.lineage,
                                                      names=item.names)
        return failed
