"""The null installer: accepts every installer call and changes nothing.

Used by ``run`` and ``install`` when no real installer is chosen, and as
the smallest complete installer for plugin authors to read.
"""

from __future__ import annotations

from typing import Any

from certkernel.sdk import Installer, serve


class NullInstaller(Installer):
    """Null Installer: changes no server configuration."""

    name = "null"
    version = "1.0.0"

    def get_all_names(self) -> list[str]:
        return []

    def deploy_cert(
        self, domain: str, cert_path: str, key_path: str, chain_path: str, fullchain_path: str
    ) -> None:
        self.kernel.log("info", f"null installer: not deploying {fullchain_path} for {domain}")

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        self.kernel.log("info", f"null installer: not enabling {enhancement} for {domain}")

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        pass

    def config_test(self) -> None:
        pass

    def restart(self) -> None:
        pass


if __name__ == "__main__":
    serve("certkernel.plugins.null.__main__:NullInstaller")
