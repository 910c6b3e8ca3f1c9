"""flatconf: a naive third-party authenticator + installer for a one-file server config.

It follows PROTOCOL.md and nothing more: checkpoints before writing, a
temporary config line and file for each challenge, and no
``checkpoint/revert_temporary`` or ``checkpoint/finalize`` call of its own;
the kernel owns both (§5.5).  It supports no enhancements (§5.3).
"""

from __future__ import annotations

import os
from typing import Any

from certkernel.sdk import Authenticator, Challenge, Installer, serve


class FlatConf(Authenticator, Installer):
    """Edits <conf-dir>/server.conf; serves challenges from <webroot>."""

    name = "flatconf"
    version = "1.0.0"

    def prepare(self) -> None:
        self.conf = os.path.join(str(self.options["conf-dir"]), "server.conf")
        self.extra = os.path.join(str(self.options["conf-dir"]), "challenge.conf")
        self.webroot = str(self.options["webroot"])
        self.pending: list[str] = []

    def more_info(self) -> str:
        return "A flat one-file server configuration (third-party test plugin)."

    # -- authenticator: a temporary change, left for the kernel to revert --
    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        folder = os.path.join(self.webroot, ".well-known", "acme-challenge")
        os.makedirs(folder, exist_ok=True)
        self.kernel.checkpoint_add([self.conf], temporary=True)
        self.kernel.checkpoint_register_new([self.extra], temporary=True)
        with open(self.conf, "a") as handle:
            for c in challenges:
                handle.write(f"location {c.uri_path} {{ root {self.webroot}; }}\n")
        with open(self.extra, "w") as handle:
            handle.write("# challenge include\n")
        for c in challenges:
            with open(os.path.join(folder, c.token), "w") as handle:
                handle.write(c.validation)

    def cleanup(self, challenges: list[Challenge]) -> None:
        folder = os.path.join(self.webroot, ".well-known", "acme-challenge")
        for c in challenges:
            try:
                os.unlink(os.path.join(folder, c.token))
            except FileNotFoundError:
                pass

    # -- installer: no enhancements, no finalize ---------------------------
    def get_all_names(self) -> list[str]:
        return ["flat.example"]

    def deploy_cert(self, domain: str, cert_path: str, key_path: str, chain_path: str,
                    fullchain_path: str) -> None:
        self.pending.append(f"ssl_certificate {fullchain_path}; # {domain}\n")
        self.pending.append(f"ssl_certificate_key {key_path}; # {domain}\n")

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        raise AssertionError("the kernel asked for an enhancement flatconf never offered")

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        if not self.pending:
            return
        self.kernel.checkpoint_add([self.conf], temporary=temporary)
        with open(self.conf, "a") as handle:
            handle.writelines(self.pending)
        self.pending = []

    def config_test(self) -> None:
        pass

    def restart(self) -> None:
        pass


if __name__ == "__main__":
    serve(FlatConf)
