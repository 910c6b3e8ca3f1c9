"""A minimal authenticator for bench/rpc.py: answers fast, echoes payloads."""

from __future__ import annotations

from certkernel.sdk import Authenticator, Challenge, serve


class Echo(Authenticator):
    name = "echo"
    version = "1.0.0"

    def __init__(self) -> None:
        self.last = ""

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        self.last = challenges[0].validation

    def cleanup(self, challenges: list[Challenge]) -> None:
        self.last = ""

    def more_info(self) -> str:
        return self.last


if __name__ == "__main__":
    serve(Echo)
