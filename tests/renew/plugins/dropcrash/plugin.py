"""dropcrash: one folder per name from each challenge's per_domain value; dies on a marked folder.

Every perform and cleanup is appended to ``events.log`` in its state folder
with the process id, so a test can see which process did what.
"""

from __future__ import annotations

import os

from certkernel.sdk import Authenticator, Challenge, PluginError, serve


class DropCrash(Authenticator):
    name = "dropcrash"
    version = "1.0.0"

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def _note(self, what: str, chall: Challenge) -> None:
        with open(os.path.join(self.state_dir, "events.log"), "a", encoding="ascii") as log:
            log.write(f"{os.getpid()} {what} {chall.identifier}\n")

    def _folder(self, chall: Challenge) -> str:
        folder = self.per_domain_value(chall, "sites")
        if not folder:
            raise PluginError(f"dropcrash: no site folder for {chall.identifier}")
        return folder

    def perform(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            folder = self._folder(chall)
            self._note("perform", chall)
            if os.path.exists(os.path.join(folder, "CRASH")):
                os._exit(70)
            path = os.path.join(folder, ".well-known", "acme-challenge")
            os.makedirs(path, exist_ok=True)
            with open(os.path.join(path, chall.token), "w", encoding="ascii") as handle:
                handle.write(chall.validation)

    def cleanup(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            self._note("cleanup", chall)
            path = os.path.join(self._folder(chall), ".well-known", "acme-challenge", chall.token)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


if __name__ == "__main__":
    serve(DropCrash)
