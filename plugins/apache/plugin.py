"""The Apache plugin process: SDK glue between the kernel and the modules.

Everything Apache-specific lives in the sibling modules; this class maps
protocol calls onto them, hands the kernel's checkpoint service to the
installer (files are registered before they are written) and asks the
kernel, never the terminal, when a vhost has to be chosen by a person.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from certkernel.sdk import (
    Authenticator,
    Challenge,
    Installer,
    LineageInfo,
    MisconfigurationError,
    NoInstallationError,
)

from . import enhance as enh
from . import fleet, http01
from .installer import ApacheInstaller
from .options import resolve
from .vhosts import VirtualHost

AUTOHSTS_KEY = "autohsts"


class ApachePlugin(Authenticator, Installer):
    """Apache Web Server: obtain certificates through a running Apache (http-01)
    and install them in its virtual hosts, with redirect, HSTS and OCSP stapling."""

    name = "apache"
    version = "1.0.0"
    capabilities = ("autohsts", "renew_deploy")

    _inst: ApacheInstaller | None = None
    _fleet_url = ""  # --apache-fleet-responder as a ProxyPass URL (fleet mode)

    # -- setup -------------------------------------------------------------

    def prepare(self) -> None:
        opts = resolve(self.options)
        responder = str(self.options.get("fleet-responder") or self.options.get("fleet_responder")
                        or "")
        self._fleet_url = fleet.upstream(responder) if responder else ""
        if shutil.which(opts.ctl) is None:
            raise NoInstallationError(
                f"cannot find {opts.ctl!r}; install Apache or set --apache-ctl"
            )
        self._inst = ApacheInstaller(
            opts,
            self.kernel,
            https_port=int(self.settings.get("https_port") or 443),
            config_dir=Path(str(self.settings.get("config_dir") or "/etc/letsencrypt")),
        )

    @property
    def inst(self) -> ApacheInstaller:
        if self._inst is None:
            self.prepare()
        assert self._inst is not None
        return self._inst

    # -- authenticator -----------------------------------------------------

    def _http_port(self) -> int:
        return int(self.settings.get("http01_port") or 80)

    def _token_dir(self) -> Path:
        work = Path(str(self.settings.get("work_dir") or "/var/lib/letsencrypt"))
        return work / "http_challenges"

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        setup = http01.perform(self.inst, challenges, self._http_port(), self._token_dir())
        self.kernel.log("info", f"http-01 include added to: {'; '.join(setup.vhosts)}")
        self.inst.ctl.graceful()
        if not http01.wait_served(challenges, self._http_port()):
            self.kernel.log(
                "warning", "could not confirm over loopback that Apache serves the token"
            )

    def cleanup(self, challenges: list[Challenge]) -> None:
        http01.remove_tokens(challenges, self._token_dir())
        self.kernel.checkpoint_revert_temporary()
        self.inst.recovery_routine()
        self.inst.ctl.graceful()

    # -- installer ---------------------------------------------------------

    def get_all_names(self) -> list[str]:
        return self.inst.get_all_names()

    def _ask_vhost(self, domain: str) -> VirtualHost | None:
        if self.inst.find_ssl_vhost(domain) or self.inst.find_http_vhost(domain):
            return None
        plain = [v for v in self.inst.vhosts() if not v.ssl and not v.in_macro]
        if not plain:
            raise MisconfigurationError("the Apache configuration has no plain-HTTP vhost to copy")
        if self.settings.get("non_interactive"):
            raise MisconfigurationError(
                f"no Apache vhost has ServerName or ServerAlias {domain}; "
                f"add 'ServerName {domain}' to the vhost that should serve it"
            )
        index = self.kernel.menu(
            f"Which Apache virtual host should serve {domain}?",
            [v.describe() for v in plain],
        )
        if index is None:
            raise MisconfigurationError(f"no Apache vhost chosen for {domain}")
        return plain[index]

    def deploy_cert(
        self, domain: str, cert_path: str, key_path: str, chain_path: str, fullchain_path: str
    ) -> None:
        fallback = self._ask_vhost(domain)
        vhost = self.inst.choose_vhost(domain, fallback)
        ssl = self.inst.deploy_cert(domain, cert_path, key_path, chain_path, fullchain_path, vhost)
        if self._fleet_url:
            fleet.proxy_challenges(self.inst, domain, ssl, self._fleet_url, self.kernel.log)

    def supported_enhancements(self) -> list[str]:
        return list(enh.SUPPORTED)

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        enh.enhance(self.inst, domain, enhancement, options)

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        self.inst.save(temporary=temporary)
        if title and not temporary:
            self.kernel.checkpoint_finalize(title)

    def config_test(self) -> None:
        self.inst.ctl.config_test()

    def restart(self) -> None:
        self.inst.ctl.graceful()
        time.sleep(0.1)  # the master re-reads its config right after the signal

    def recovery_routine(self) -> None:
        self.inst.recovery_routine()

    def renew_deploy(self, lineage: LineageInfo) -> None:
        for domain in lineage.domains:
            self.deploy_cert(
                domain,
                lineage.cert_path,
                lineage.key_path,
                lineage.chain_path,
                lineage.fullchain_path,
            )

    # -- auto-HSTS: a short max-age raised step by step, a long one after renewal --

    def _autohsts(self) -> dict[str, int]:
        value = self.kernel.storage_get(AUTOHSTS_KEY)
        return dict(value) if isinstance(value, dict) else {}

    def enable_autohsts(self, lineage: LineageInfo, domains: list[str]) -> None:
        state = self._autohsts()
        for domain in domains:
            enh.set_hsts_max_age(self.inst, domain, enh.AUTOHSTS_STEPS[0])
            state[domain] = 0
        self.kernel.storage_put(AUTOHSTS_KEY, state)

    def update_autohsts(self, domain: str) -> None:
        """Raise every auto-HSTS site one step (once per renew run, not per name)."""
        state = self._autohsts()
        if not state:
            return
        for name, step in list(state.items()):
            nxt = min(step + 1, len(enh.AUTOHSTS_STEPS) - 1)
            try:
                enh.set_hsts_max_age(self.inst, name, enh.AUTOHSTS_STEPS[nxt])
            except MisconfigurationError as exc:
                self.kernel.log("warning", f"auto-HSTS for {name} left as it was: {exc}")
                continue
            state[name] = nxt
        self.save("Increased the auto-HSTS max-age")
        self.kernel.storage_put(AUTOHSTS_KEY, state)

    def deploy_autohsts(self, lineage: LineageInfo) -> None:
        """After a successful renewal: a site at the last step gets the long max-age."""
        state = self._autohsts()
        last = len(enh.AUTOHSTS_STEPS) - 1
        done = [d for d in lineage.domains if d in state and state[d] >= last]
        if not done:
            return
        for domain in done:
            enh.set_hsts_max_age(self.inst, domain, enh.AUTOHSTS_LONG)
            del state[domain]
        self.save("Made the auto-HSTS max-age permanent")
        self.kernel.storage_put(AUTOHSTS_KEY, state)
