"""Test-side bridge: what a fake DNS provider holds, Pebble's DNS serves.

Why: the fakes (fake_route53, fake_google) stand in for a provider's API,
but Pebble validates dns-01 by asking pebble-challtestsrv. Real providers
publish a record set to their name servers once the change is accepted; here
every change the fake accepts is mirrored to challtestsrv before the API
answers, so when the plugin sees the change done (INSYNC / done) the CA can
see the record, as with the real service. The fakes themselves are not
edited: subclasses hook the one place a change is applied.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from tests.infra.fake_google import FakeGoogle
from tests.infra.fake_route53 import FakeRoute53
from tests.infra.fakeapi import Reply, Request
from tests.infra.pebble import Pebble


@dataclass
class TxtMirror:
    """Keeps challtestsrv's TXT values equal to a provider's record sets."""

    pebble: Pebble
    published: dict[str, list[str]] = field(default_factory=dict)  # fqdn (no dot) -> values
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sync(self, current: dict[str, list[str]]) -> None:
        """Publish ``current`` (fqdn -> values), clearing names whose set changed or went."""
        with self._lock:
            for name in sorted(set(self.published) | set(current)):
                wanted = sorted(current.get(name, []))
                if wanted == self.published.get(name, []):
                    continue
                self.pebble.clear_txt(name)
                for value in wanted:
                    self.pebble.set_txt(name, value)
                if wanted:
                    self.published[name] = wanted
                else:
                    del self.published[name]


def _unquote(values: list[str]) -> list[str]:
    return [v[1:-1] if len(v) > 1 and v[0] == v[-1] == '"' else v for v in values]


@dataclass
class BridgedRoute53(FakeRoute53):
    """The local Route 53, publishing its TXT sets once a change batch is accepted."""

    mirror: TxtMirror | None = None

    def handle(self, method: str, path: str, query: dict[str, str],
               body: bytes) -> tuple[int, str]:
        reply = super().handle(method, path, query, body)
        if self.mirror is not None and method == "POST":
            self.mirror.sync({name.rstrip("."): _unquote(rr["values"])
                              for (_zone, name), rr in self.rrsets.items()})
        return reply


class BridgedGoogle(FakeGoogle):
    """The local Cloud DNS, publishing its TXT sets once a change is accepted."""

    def __init__(self, mirror: TxtMirror, zone: str = "example.com") -> None:
        super().__init__(zone)
        self.mirror = mirror
        inner = self.api.dispatch

        def dispatch(req: Request) -> Reply:
            reply = inner(req)
            if req.method == "POST" and req.path.endswith("/changes"):
                self.mirror.sync(self._txt_sets())
            return reply

        self.api.dispatch = dispatch  # type: ignore[method-assign]

    def _txt_sets(self) -> dict[str, list[str]]:
        found: dict[str, Any] = {}
        for (_zone, name), rr in self.rrsets.items():
            found.setdefault(name.rstrip("."), []).extend(_unquote(rr["rrdatas"]))
        return found
