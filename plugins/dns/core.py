"""The dns-01 work every provider shares: plan, publish, wait, remove.

A backend only knows how to find the zone holding a name and how to add or
remove one TXT value there. :class:`ChallengeRunner` does the rest, the same
way for every provider: follow a CNAME on ``_acme-challenge.<name>``, guess
the zone from the most to the least specific name, add every value (a
wildcard and its apex share one name and get two values), undo what it added
when a later add fails, wait for propagation, and on cleanup remove each value
it is responsible for, carrying on past individual failures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from certkernel.plugins.dns.lookup import Nameserver, follow_cname
from certkernel.plugins.dns.propagation import PropagationResult, wait_for_txt
from certkernel.sdk import PluginError

log = logging.getLogger(__name__)


class ChallengeLike(Protocol):
    """What the core needs of a dns-01 challenge (the SDK's Challenge has these)."""

    # Read-only: the SDK's Challenge is a frozen dataclass.
    @property
    def validation_domain_name(self) -> str: ...

    @property
    def validation(self) -> str: ...


class RecordBackend(Protocol):
    """One provider's way of changing TXT records."""

    provider: str

    def find_zone(self, fqdn: str) -> str:
        """The zone (no trailing dot) this account manages that holds ``fqdn``."""

    def add_txt(self, zone: str, fqdn: str, value: str) -> None:
        """Add one value; other values on the same name stay."""

    def remove_txt(self, zone: str, fqdn: str, value: str) -> None:
        """Remove one value; absent is fine (cleanup may run twice)."""

    def lookup_servers(self) -> list[Nameserver]:
        """Servers to ask where CNAMEs lead."""

    def authoritative_servers(self, zone: str) -> list[Nameserver]:
        """Servers whose answers decide propagation for ``zone`` (may be empty)."""


@dataclass(frozen=True)
class TxtRecord:
    """One value to publish, at its final name, in its zone."""

    zone: str
    fqdn: str
    value: str


class ChallengeRunner:
    """perform/cleanup for one backend; holds no state between calls on purpose.

    Cleanup recomputes the plan from the challenges, so it also works in a
    fresh process after the plugin that performed died.
    """

    def __init__(
        self,
        backend: RecordBackend,
        propagation_seconds: float,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.backend = backend
        self.propagation_seconds = propagation_seconds
        self.progress = progress

    def plan(self, challenges: Iterable[ChallengeLike]) -> list[TxtRecord]:
        """Final name and zone for each distinct (name, value), in order."""
        servers = self.backend.lookup_servers()
        records: list[TxtRecord] = []
        targets: dict[str, str] = {}
        zones: dict[str, str] = {}
        for chall in challenges:
            name = chall.validation_domain_name.rstrip(".").lower()
            if name not in targets:
                targets[name] = follow_cname(servers, name) if servers else name
            target = targets[name]
            if target not in zones:
                zones[target] = self.backend.find_zone(target)
            record = TxtRecord(zones[target], target, chall.validation)
            if record not in records:
                records.append(record)
        return records

    def perform(self, challenges: Iterable[ChallengeLike]) -> PropagationResult:
        records = self.plan(challenges)
        added: list[TxtRecord] = []
        try:
            for record in records:
                log.info("Adding TXT %s in zone %s", record.fqdn, record.zone)
                self.backend.add_txt(record.zone, record.fqdn, record.value)
                added.append(record)
        except BaseException:
            self._remove(reversed(added))
            raise
        expected: dict[str, set[str]] = {}
        servers: list[Nameserver] = []
        for record in records:
            expected.setdefault(record.fqdn, set()).add(record.value)
            for server in self.backend.authoritative_servers(record.zone):
                if server not in servers:
                    servers.append(server)
        return wait_for_txt(expected, servers, self.propagation_seconds, self.progress)

    def cleanup(self, challenges: Iterable[ChallengeLike]) -> None:
        errors = self._remove(self.plan(challenges))
        if errors:
            raise PluginError(
                f"dns-{self.backend.provider}: could not remove {len(errors)} TXT record(s): "
                + "; ".join(errors)
            )

    def _remove(self, records: Iterable[TxtRecord]) -> list[str]:
        errors: list[str] = []
        for record in records:
            try:
                log.info("Removing TXT %s in zone %s", record.fqdn, record.zone)
                self.backend.remove_txt(record.zone, record.fqdn, record.value)
            except Exception as exc:  # noqa: BLE001 - keep removing the others
                log.warning("Removing TXT %s failed: %s", record.fqdn, exc)
                errors.append(f"{record.fqdn}: {exc}")
        return errors
