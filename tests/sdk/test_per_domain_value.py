"""``Authenticator.per_domain_value``: PROTOCOL.md §8's rule, through the SDK's real server.

The challenge's ``per_domain`` field is the answer whenever the kernel sends
it (its options may be another lineage's); only a kernel too old to send it
leaves the answer to the options map.
"""

from __future__ import annotations

import json
from pathlib import Path

from certkernel.sdk import Authenticator, Challenge
from certkernel.sdk.testing import PluginHarness


class Sites(Authenticator):
    """Writes, per challenge, the value per_domain_value gave it (or "-" for none)."""

    name = "sites-demo"

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        seen = [[c.identifier, self.per_domain_value(c, "sites") or "-"] for c in challenges]
        Path(self.state_dir, "seen.json").write_text(json.dumps(seen))

    def cleanup(self, challenges: list[Challenge]) -> None:
        pass


def chall(name: str, per_domain: dict[str, str] | None = None, wildcard: bool = False) -> Challenge:
    return Challenge(identifier=name, type="http-01", token="t", key_authorization="t.k",
                     validation="t.k", wildcard=wildcard, per_domain=per_domain)


def test_the_challenge_value_first_and_the_options_only_without_the_field() -> None:
    options = {"sites": {"a.example, B.example": "/from-options", "*.w.example": "/wild"}}
    with PluginHarness(Sites, options=options) as harness:
        harness.perform([
            chall("a.example", {"sites": "/from-challenge"}),
            chall("b.example", {}),  # sent, without a value: none, not the options'
            chall("b.example"),  # an older kernel: the options map, keys split and lowercased
            chall("w.example", wildcard=True),
            chall("c.example"),
        ])
        seen = json.loads(Path(harness.state_dir, "seen.json").read_text())
    assert seen == [["a.example", "/from-challenge"], ["b.example", "-"],
                    ["b.example", "/from-options"], ["w.example", "/wild"], ["c.example", "-"]]
