"""The nginx plugin process: authenticator (http-01) and installer in one.

State between calls is only the parsed configuration and pending edits; the
files themselves are the truth, re-read at ``prepare`` and before each
challenge, so a crashed run leaves nothing in memory that matters.
"""

from __future__ import annotations

import os
from typing import Any

from certkernel.sdk import (
    Authenticator,
    Challenge,
    Installer,
    LineageInfo,
    MisconfigurationError,
    MissingCommandlineFlag,
)

from . import challenge as http01
from . import fleet
from .control import NginxCtl, build_paths, pid_file_of
from .installer import ENHANCEMENTS, NginxEditor
from .parser import NginxConfig
from .selection import ServerBlock, get_all_names
from .tls_files import TlsFiles

DEFAULT_ROOTS = ("/etc/nginx", "/usr/local/etc/nginx")


class NginxPlugin(Authenticator, Installer):
    """Nginx Web Server plugin: proves control with http-01 through the running nginx
    and installs certificates into its configuration, checking every change with nginx -t."""

    name = "nginx"
    version = "1.0.0"
    capabilities = ("renew_deploy",)

    editor: NginxEditor
    tls: TlsFiles
    fleet_url: str = ""  # --nginx-fleet-responder as a proxy_pass URL (fleet mode)

    def prepare(self) -> None:
        root = self.options.get("server-root") or self.options.get("server_root") or ""
        if not root:
            root = next((r for r in DEFAULT_ROOTS if os.path.isdir(r)), DEFAULT_ROOTS[0])
        config = NginxConfig.load(root)
        ctl_name = self.options.get("ctl") or "nginx"
        prefix = str(self.options.get("prefix") or "") or None
        pid_arg = next((d.args[0] for d in config.expand(config.root_block) if d.name == "pid" and d.args), None)
        sleep = float(self.options.get("sleep-seconds") or self.options.get("sleep_seconds") or 0)
        ctl = NginxCtl(ctl=ctl_name, conf=config.main, pid_file=None, sleep_seconds=sleep, prefix=prefix)
        ctl.pid_file = pid_file_of(pid_arg, prefix, build_paths(ctl.binary()))
        responder = str(self.options.get("fleet-responder") or self.options.get("fleet_responder")
                        or "")
        self.fleet_url = fleet.upstream(responder) if responder else ""
        config_dir = str(self.settings.get("config_dir") or "/etc/letsencrypt")
        self.tls = TlsFiles(config_dir, self.state_dir, lambda m: self.kernel.log("warning", m))
        self.editor = NginxEditor(
            config=config,
            ctl=ctl,
            kernel=self.kernel,
            https_port=int(self.settings.get("https_port") or 443),
            http_port=int(self.settings.get("http01_port") or 80),
            options_path=self.tls.options_path,
            dhparam_path=self.tls.dhparam_path,
            choose=self._ask_block,
            log=self.kernel.log,
        )

    def _ask_block(self, domain: str, servers: list[ServerBlock]) -> ServerBlock | None:
        """Ask which block serves a name no ``server_name`` matches (interactive runs only).

        No flag answers this (Certbot has none either): the answer belongs in
        nginx's config, so ``cli_flag`` says what to add there. A
        non-interactive run is not asked and fails with the same advice.
        """
        if not servers:
            return None
        if self.settings.get("non_interactive"):
            return None
        index = self.kernel.menu(
            f"No server block has server_name {domain}. Which block should serve it?",
            [s.describe() for s in servers],
            cli_flag=f"'server_name {domain};' in the nginx server block that should serve it",
        )
        return servers[index] if index is not None else None

    # -- authenticator ---------------------------------------------------
    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        port = int(self.settings.get("http01_port") or 80)
        http01.publish(self.editor, challenges, port)
        self.editor.ctl.reload()

    def cleanup(self, challenges: list[Challenge]) -> None:
        self.kernel.checkpoint_revert_temporary()
        self.editor.reload_tree()
        self.editor.ctl.reload()

    # -- installer -------------------------------------------------------
    def get_all_names(self) -> list[str]:
        self.editor.reload_tree()
        return get_all_names(self.editor.servers())

    def deploy_cert(
        self, domain: str, cert_path: str, key_path: str, chain_path: str, fullchain_path: str
    ) -> None:
        if not fullchain_path:
            raise MissingCommandlineFlag("nginx needs the full chain; pass --fullchain-path")
        self.tls.ensure()
        server = self.editor.deploy_cert(domain, key_path, fullchain_path)
        self.kernel.log("info", f"Deploying certificate for {domain} to {server.directive.where()}")
        if self.fleet_url:
            self.editor.proxy_challenges(domain, self.fleet_url, server)

    def supported_enhancements(self) -> list[str]:
        return list(ENHANCEMENTS)

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        self.editor.enhance(domain, enhancement, options)

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        self.editor.save(temporary=temporary)
        if title and not temporary:
            self.kernel.checkpoint_finalize(title)

    def config_test(self) -> None:
        self.editor.ctl.config_test()

    def restart(self) -> None:
        self.editor.ctl.reload()

    def recovery_routine(self) -> None:
        self.editor.reload_tree()

    def renew_deploy(self, lineage: LineageInfo) -> None:
        for domain in lineage.domains:
            try:
                self.deploy_cert(domain, lineage.cert_path, lineage.key_path,
                                 lineage.chain_path, lineage.fullchain_path)
            except MisconfigurationError as exc:
                self.kernel.log("warning", f"{domain}: {exc}")
        self.save(f"Renewed {lineage.name}")
