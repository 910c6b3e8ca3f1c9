"""A third-party http-01 authenticator that asks for no privilege.

It writes each token into the folder named by its ``dir`` option (served by
the test's web server) and removes it on cleanup, so it can only work where
the account it runs as may write.
"""

from __future__ import annotations

import os

from certkernel.sdk import Authenticator, Challenge, serve


class ThirdParty(Authenticator):
    name = "thirdparty"
    version = "0.1.0"

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def _token_path(self, chall: Challenge) -> str:
        folder = os.path.join(str(self.options["dir"]), ".well-known", "acme-challenge")
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, chall.token)

    def perform(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            with open(self._token_path(chall), "w", encoding="ascii") as fh:
                fh.write(chall.validation)
            os.chmod(self._token_path(chall), 0o644)

    def cleanup(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            try:
                os.unlink(self._token_path(chall))
            except FileNotFoundError:
                pass


if __name__ == "__main__":
    serve(ThirdParty)
