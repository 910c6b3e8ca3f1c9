"""Starting the plugins a command needs, equipped from the resolved Config.

The kernel decides what a plugin receives: its typed options, the values of
its credential files (read and permission-checked here, never the files
themselves), run-wide settings, a private state directory, the http-01
sockets it bound on the plugin's behalf, and the user to run as. A plugin
that is both the authenticator and the installer runs as one process.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from certkernel import errors
from certkernel.config import Config
from certkernel.display import Display
from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.manifest import Manifest
from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.proxies import RemoteAuthenticator, RemoteInstaller
from certkernel.plugin_host.sandbox import Decision
from certkernel.plugin_host.services import Checkpoints, KernelServices
from certkernel.protocol.messages import Challenge

logger = logging.getLogger(__name__)

# Certbot's defaults, kept by name because users' commands rely on them:
# certonly without -a uses standalone; run with only -a keeps the certificate
# where it is (an installer whose manifest declares [needs] changes_nothing).
DEFAULT_AUTHENTICATOR = "standalone"


def read_credentials(path: str, flag: str) -> dict[str, str]:
    """Read a Certbot-style credentials INI (``key = value`` lines).

    The file must exist and be a regular file; group or world access gets a
    warning (Certbot's advice: chmod 600), as the values are secrets.
    """
    text = read_secret_text(path, flag)
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")) or line.startswith("["):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise errors.ConfigurationError(
                f"{flag}: {path} line {number} is not 'key = value'"
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


_MAX_SECRET_FILE = 1024 * 1024


def read_secret_text(path: str, flag: str) -> str:
    """The whole text of a credentials file, checked as :func:`read_credentials` says.

    Why the kernel reads it: plugins run as an unprivileged account, which
    cannot (and must not) read root's 0600 credential files.
    """
    # Opened once and checked through that descriptor (no stat-then-open race);
    # O_NONBLOCK so that a FIFO put in its place cannot hang the run.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise errors.ConfigurationError(
            f"{flag}: credentials file {path} does not exist"
        ) from None
    except OSError as exc:
        raise errors.ConfigurationError(f"{flag}: cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise errors.ConfigurationError(f"{flag}: {path} is not a regular file")
        if st.st_mode & 0o077:
            logger.warning(
                "Unsafe permissions on credentials file %s (mode %o): others can read it. "
                "Run: chmod 600 %s",
                path, stat.S_IMODE(st.st_mode), path,
            )
        try:
            raw = fh.read(_MAX_SECRET_FILE + 1)
        except OSError as exc:
            raise errors.ConfigurationError(f"{flag}: cannot read {path}: {exc}") from None
    if len(raw) > _MAX_SECRET_FILE:
        raise errors.ConfigurationError(f"{flag}: {path} is larger than 1 MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.ConfigurationError(f"{flag}: cannot read {path}: {exc}") from None


_SECRET_WORDS = ("secret", "token", "password", "passwd", "key", "credential")


def is_secret_key(key: str) -> bool:
    """Whether a credentials-file key holds a secret (not a server, port or key name).

    Only those values are redacted from logs, so a log still shows which
    server and which TSIG key name a run used.
    """
    low = key.lower()
    if low.endswith(("_name", "_server", "_port", "_algorithm", "_email", "_url", "_endpoint")):
        return False
    return any(word in low for word in _SECRET_WORDS)


def read_secrets(manifest: Manifest, options: dict[str, Any]) -> dict[str, str]:
    """The values of a plugin's credential files (its ``secret-file`` options).

    Every secret value is registered with the log filter first, so it can
    never reach a log line.
    """
    from certkernel.log import register_secret

    secrets: dict[str, str] = {}
    for opt in manifest.options:
        path = options.get(opt.name) if opt.type in ("secret-file", "secret-text") else None
        if not path:
            continue
        if opt.type == "secret-text":
            text = read_secret_text(os.path.expanduser(str(path)), opt.flag)
            _register_text(text)
            secrets[opt.dest] = text
            continue
        values = read_credentials(os.path.expanduser(str(path)), opt.flag)
        for key, value in values.items():
            if is_secret_key(key) and len(value) >= 4:
                register_secret(value)
        secrets.update(values)
    return secrets


def _register_text(text: str) -> None:
    """Keep a whole-file secret out of logs: the text, and a JSON file's secret values."""
    import json

    from certkernel.log import register_secret

    if len(text.strip()) >= 4:
        register_secret(text)
    try:
        data = json.loads(text)
    except ValueError:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str) and is_secret_key(str(key)) and len(value) >= 4:
                register_secret(value)
                for line in value.splitlines():
                    if len(line) >= 16:
                        register_secret(line)


def bind_http01(port: int, address: str) -> list[socket.socket]:
    """Bind the http-01 listening sockets a standalone plugin will serve on.

    With an address, exactly that; without, IPv6 (v6-only) then IPv4, going
    on when one of them works, as Certbot's standalone does.
    """
    targets = [(address, socket.AF_INET6 if ":" in address else socket.AF_INET)] if address \
        else [("::", socket.AF_INET6), ("0.0.0.0", socket.AF_INET)]
    bound: list[socket.socket] = []
    failures: list[OSError] = []
    for host, family in targets:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
            sock.listen(64)
            sock.set_inheritable(True)
            bound.append(sock)
        except OSError as exc:
            sock.close()
            failures.append(exc)
    if not bound:
        where = f"{address}:{port}" if address else f"TCP port {port}"
        in_use = any(getattr(f, "errno", None) == 98 for f in failures)
        if in_use:
            raise errors.PluginError(
                f"Could not bind {where} because it is already in use by another process on "
                "this system (such as a web server). Please stop the program in question and "
                "then try again, or choose another port with --http-01-port."
            )
        raise errors.PluginError(f"Could not bind {where}: {failures[-1].strerror}")
    return bound


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
    """certkernel.plugin_storage.PluginStorage behind the host's Storage protocol."""

    def __init__(self, config_dir: str) -> None:
        from certkernel.plugin_storage import PluginStorage

        self.inner = PluginStorage(config_dir)

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
        from certkernel.plugin_host.sandbox import decide, make_placed

        decision = decide(manifest, config.plugin_user, options, work_dir=self.config.work_dir,
                          config_dir=self.config.config_dir, state_dir=state_dir)
        if decision.confine is not None:
            make_placed(manifest, self.config.work_dir, self.config.config_dir)
        logger.debug("Plugin %s runs as %s", manifest.name, decision.why)
        return decision

    def _roots(self, manifest: Manifest, options: dict[str, Any]) -> list[str]:
        """The directories this plugin may have the kernel checkpoint (its manifest's roots).

        None of them may overlap the kernel's config, work or logs dir: keys,
        checkpoints and every plugin's state directory live there.
        """
        from certkernel.plugin_host.roots import check_roots, resolve_roots

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
        uid = decision.user.uid if decision.user else None
        gid = decision.user.gid if decision.user else None
        if self._storage is None and not self.config.dry_run:
            self._storage = _StorageAdapter(self.config.config_dir)
        roots = self._roots(manifest, options)
        services = KernelServices(
            name,
            display=self.display,
            storage=self._storage,
            checkpoints=self.checkpoints,
            roots=roots,
            installer=installer_record(manifest, options) if roots else None,
        )
        process = start_plugin(
            manifest,
            services.handle,
            options=options,
            secrets=secrets,
            settings=settings,
            state_dir=state_dir,
            fds=fds,
            user=uid,
            group=gid,
            limits=None,  # the manifest's [sandbox] limits, when it runs as another user
            on_progress=self.on_progress,
            confine=decision.confine,
        )
        self._stack.callback(process.close)
        self._processes[key] = process
        return process

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
        auth = _RecoveringAuthenticator(self.start(name, "authenticator", config), self, config)
        self._prepare_once(self._key(name, "authenticator", config), auth)
        return auth

    def installer(self, name: str, config: Config | None = None) -> RemoteInstaller:
        inst = _FinalizingInstaller(self.start(name, "installer", config), self.checkpoints)
        self._prepare_once(self._key(name, "installer", config), inst)
        return inst

    def close(self) -> None:
        self._stack.close()
        self._processes.clear()

    def __enter__(self) -> PluginLauncher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RecoveringAuthenticator(RemoteAuthenticator):
    """An authenticator whose cleanup runs in a fresh process if the first one died.

    Cleanup must run even when the plugin crashed, was killed on a deadline or
    ran out of its sandbox limits during perform: what it published before
    that (a TXT record, a webroot file) would otherwise stay behind.
    """

    def __init__(self, process: PluginProcess, launcher: PluginLauncher,
                 config: Config | None) -> None:
        super().__init__(process)
        self._launcher = launcher
        self._config = config

    def cleanup(self, challenges: Sequence[Challenge]) -> None:
        """The plugin's cleanup, then the kernel reverts any temporary change it left.

        A plugin should revert its temporary checkpoint itself before it
        reloads its server; one that does not (or fails, or dies) still
        leaves nothing behind: the kernel restores the files here, whatever
        the cleanup did (PROTOCOL.md §5.5).
        """
        try:
            if self.process.closed or self.process.popen.poll() is not None:
                self.process = self._launcher.restart(self.name, "authenticator", self._config)
                self._launcher._prepare_once(
                    self._launcher._key(self.name, "authenticator", self._config), self)
            super().cleanup(challenges)
        finally:
            if self._launcher.checkpoints is not None:
                self._launcher.checkpoints.revert_own_temporary()


class _FinalizingInstaller(RemoteInstaller):
    """An installer whose titled ``save`` the kernel itself turns into a finalized checkpoint.

    PROTOCOL.md §5.3/§5.5: ``save {title, temporary: false}`` with a title
    ends a step; once the plugin has written its files the kernel closes the
    in-progress checkpoint under that title.  A plugin that also calls
    ``checkpoint/finalize`` (as Certbot's installers do) changes nothing:
    the kernel then finds no checkpoint in progress.
    """

    def __init__(self, process: PluginProcess, checkpoints: Checkpoints | None) -> None:
        super().__init__(process)
        self._checkpoints = checkpoints

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        super().save(title, temporary)
        if title and not temporary and self._checkpoints is not None:
            self._checkpoints.finalize(title)


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
    import json

    return name + "\0" + json.dumps([options, served], sort_keys=True, default=str)


def _fallback_installer(config: Config) -> str:
    """``run -a X`` without an installer keeps the certificate where it is, as in
    Certbot: the installer whose manifest declares ``[needs] changes_nothing``."""
    for name in sorted(config.manifests):
        manifest = config.manifests[name]
        if manifest.is_installer and manifest.changes_nothing:
            return name
    raise errors.MissingFlag("Please choose an installer (-i NAME) as well as the authenticator "
                             "(-a), or use certonly")


def chosen_plugins(config: Config, verb: str) -> tuple[str | None, str | None]:
    """(authenticator, installer) names for a command, with Certbot's defaults."""
    auth = config.authenticator or config.configurator
    inst = config.installer or config.configurator
    if verb == "certonly":
        return auth or DEFAULT_AUTHENTICATOR, None
    if verb == "run":
        if not (auth or inst):
            raise errors.MissingFlag(
                "Please choose an installer (for example --nginx, --apache, or -i null) "
                "and an authenticator (-a), or use certonly"
            )
        return auth or inst, inst or _fallback_installer(config)
    if verb in ("install", "enhance"):
        if not inst:
            raise errors.MissingFlag(f"{verb} needs an installer: --nginx, --apache or -i NAME")
        return None, inst
    return auth, inst


def wildcard_capable(manifest: Manifest) -> bool:
    return "dns-01" in manifest.challenges


def check_wildcards(config: Config, names: Sequence[str], auth: str) -> None:
    """Refuse a wildcard before contacting the CA when the plugin cannot do dns-01."""
    wild = [n for n in names if n.startswith("*.")]
    manifest = config.manifests.get(auth)
    if wild and manifest is not None and not wildcard_capable(manifest):
        raise errors.ConfigurationError(
            f"{', '.join(wild)}: wildcard names need the dns-01 challenge, which the "
            f"{auth} plugin cannot do. Use a DNS plugin (for example --dns-rfc2136) "
            "or --manual with --preferred-challenges dns"
        )
