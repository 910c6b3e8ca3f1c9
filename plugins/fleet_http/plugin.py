"""The fleet-http authenticator: has the kernel publish each http-01 key authorization.

Load-balanced http-01: the CA's request may reach any host behind the
balancer, not the one that ordered. So this plugin serves nothing itself.
In ``perform`` it asks the kernel to publish every key authorization on the
challenge board (``challenge/publish``, PROTOCOL.md §5.2); ``certkernel
responder``, running on every host, answers from that board (in fleet mode
the shared store). ``cleanup`` withdraws them. It binds no port, writes no
file and never sees the board or the store, so it runs as certkernel's
unprivileged account with nothing to protect.
"""

from __future__ import annotations

from certkernel.sdk import Authenticator, Challenge, PluginError

HTTP01 = "http-01"


class FleetHttp(Authenticator):
    """Publishes http-01 answers on the kernel's challenge board, which `certkernel
    responder` serves on every host at /.well-known/acme-challenge/. Run the responder
    on port 80 (or behind your web server) on each host that receives the CA's requests."""

    name = "fleet-http"
    version = "1.0.0"

    def get_chall_pref(self, domain: str) -> list[str]:
        return [HTTP01]

    def perform(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            if chall.type != HTTP01:
                raise PluginError(
                    f"the fleet-http plugin only answers http-01 challenges, not {chall.type} "
                    f"for {chall.identifier}")
        for chall in challenges:
            self.kernel.challenge_publish(chall.token, chall.key_authorization)
        self.kernel.log("debug", f"fleet-http: published {len(challenges)} token(s)")

    def cleanup(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            if chall.type == HTTP01:
                self.kernel.challenge_withdraw(chall.token)
