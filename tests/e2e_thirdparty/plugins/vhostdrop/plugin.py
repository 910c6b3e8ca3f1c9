"""vhostdrop: writes each http-01 file into the folder of that name's virtual host.

Written from PROTOCOL.md alone. It reads only the ``sites`` map the kernel
fills from the per-domain option ``site`` and has no fallback of its own, so
a name the kernel paired wrongly, or not at all, fails its challenge.
"""

from __future__ import annotations

import os

from certkernel.sdk import Authenticator, Challenge, PluginError, serve


class VhostDrop(Authenticator):
    """One folder per name, as the kernel paired them."""

    name = "vhostdrop"
    version = "1.0.0"

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def _file(self, chall: Challenge) -> str:
        sites = self.options.get("sites") or {}
        folder = sites.get(chall.identifier)
        if not folder:
            raise PluginError(f"vhostdrop: no site folder for {chall.identifier} "
                              f"(sites: {sorted(sites)})")
        return os.path.join(str(folder), ".well-known", "acme-challenge", chall.token)

    def perform(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            path = self._file(chall)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="ascii") as handle:
                handle.write(chall.validation)
            self.kernel.log("info", f"vhostdrop: {chall.identifier} -> {path}")

    def cleanup(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            try:
                os.unlink(self._file(chall))
            except (FileNotFoundError, PluginError):
                pass


if __name__ == "__main__":
    serve(VhostDrop)
