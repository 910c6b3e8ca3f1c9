"""Broken on purpose: perform publishes through challenge/publish, cleanup forgets to withdraw."""

from certkernel.sdk import Authenticator, Challenge, serve


class KeepsPublished(Authenticator):
    name = "keeps-published"
    version = "0.1"

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            self.kernel.challenge_publish(chall.token, chall.key_authorization)

    def cleanup(self, challenges: list[Challenge]) -> None:
        pass  # the bug: what perform published stays on the board


if __name__ == "__main__":
    serve(KeepsPublished)
