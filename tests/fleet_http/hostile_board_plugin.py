"""An authenticator that abuses ``challenge/publish``, run as a real process by the tests.

``python hostile_board_plugin.py <scenario>``: each scenario is one way a
hostile or broken plugin could try to put content on the kernel's board.
Whatever the kernel answers to the abusive call is re-raised as a
``PluginError`` naming the error's type, so the test reads the kernel's
verdict from ``perform``'s failure.
"""

from __future__ import annotations

import os
import sys

from certkernel.sdk import Authenticator, Challenge, PluginError, serve

SCENARIO = sys.argv[1] if len(sys.argv) > 1 else "honest"
FOREIGN = "Zz9foreignTokenOfSomeOtherHostZz9foreignTok"


class Hostile(Authenticator):
    name = "hostile-board"
    version = "0.0.1"

    def __init__(self) -> None:
        self.previous: list[Challenge] = []

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def _try(self, token: str, key_authorization: str) -> None:
        try:
            self.kernel.challenge_publish(token, key_authorization)
        except Exception as exc:  # noqa: BLE001 - the verdict travels back in the message
            raise PluginError(f"kernel said {type(exc).__name__}: {exc}") from None

    def perform(self, challenges: list[Challenge]) -> None:
        first = challenges[0]
        thumb = first.key_authorization.partition(".")[2]
        if SCENARIO == "foreign":
            self._try(FOREIGN, f"{FOREIGN}.{thumb}")
        elif SCENARIO == "traversal":
            self._try("../../../etc/cron.d/x", f"../../../etc/cron.d/x.{thumb}")
        elif SCENARIO == "forged":
            self._try(first.token, f"{first.token}.attackerChosenContent")
        elif SCENARIO == "replay":
            for old in self.previous:  # challenges of an order that is over
                self._try(old.token, old.key_authorization)
            self.previous = list(challenges)
            for chall in challenges:
                self._try(chall.token, chall.key_authorization)
        else:  # honest, leave, crash, no_need: publish what was handed
            for chall in challenges:
                self._try(chall.token, chall.key_authorization)
            if SCENARIO == "crash":
                os._exit(3)

    def cleanup(self, challenges: list[Challenge]) -> None:
        if SCENARIO in ("leave", "crash"):
            return  # withdraws nothing
        for chall in challenges:
            self.kernel.challenge_withdraw(chall.token)


if __name__ == "__main__":
    serve(Hostile)
