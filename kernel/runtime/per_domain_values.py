"""Per-domain values on each challenge, and which lineages may share a plugin process.

Why: a manifest's ``per_domain`` option (webroot's ``-w``) gives every
lineage its own map (name -> value). Were those maps part of what keys a
plugin process, ``renew`` would start one process per lineage. A plugin
that declares ``[needs] per_domain_from_challenge`` instead reads each
challenge's ``per_domain`` field (PROTOCOL.md §8), so the kernel keys its
process without those options and sends every lineage's value with its own
challenges. A plugin that does not declare it keeps one process per
distinct map: it may read its options, which hold one lineage's map only.
A shared process gets no lineage's values in its options at all
(:func:`shared_options`).

Sharing never widens what a process may touch beyond what its lineages
need: the sandbox decision is part of the key, and a confined process is
started with the write roots of every lineage expected to share it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from certkernel.plugin_host.manifest import Manifest
from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.sandbox import Decision
from certkernel.plugin_host.services import Checkpoints
from certkernel.protocol.messages import Challenge
from certkernel.runtime.challenge_desk import ChallengeDesk
from certkernel.runtime.plugin_recovery import RecoveringAuthenticator


def per_domain_names(manifest: Manifest) -> set[str]:
    """The options a per-domain pairing uses: each list option and the map it fills."""
    return {opt.name for pair in manifest.per_domain_options for opt in pair}


@dataclass(frozen=True)
class PerDomainValues:
    """One lineage's per-domain values, looked up for each challenge's name."""

    maps: Mapping[str, Mapping[str, str]]  # map option -> lowercase name -> value
    last: Mapping[str, str]  # map option -> the last value of the list option filling it

    @classmethod
    def of(cls, manifest: Manifest, options: Mapping[str, Any]) -> PerDomainValues | None:
        """The values in ``options`` (one lineage's); None for a plugin with no per-domain option."""
        pairs = manifest.per_domain_options
        if not pairs:
            return None
        maps: dict[str, dict[str, str]] = {}
        last: dict[str, str] = {}
        for listed, mapped in pairs:
            entries: dict[str, str] = {}
            for key, value in (options.get(mapped.name) or {}).items():
                for name in (n.strip().lower() for n in str(key).split(",")):
                    if name:
                        entries[name] = str(value)
            maps[mapped.name] = entries
            given = _as_list(options.get(listed.name))
            if given:
                last[mapped.name] = given[-1]
        return cls(maps, last)

    def for_challenge(self, challenge: Challenge) -> dict[str, str]:
        """Map option -> value for ``challenge``'s name: its entry, else the list's last value.

        The same rule ``merge_per_domain`` applies on the command line
        (PROTOCOL.md §8): a name the pairing missed gets the last value. An
        option with no value for the name is left out.
        """
        name = challenge.identifier.lower()
        names = [f"*.{name}", name] if challenge.wildcard else [name]
        found: dict[str, str] = {}
        for option, entries in self.maps.items():
            value = next((entries[n] for n in names if n in entries), self.last.get(option))
            if value:
                found[option] = value
        return found

    def attach(self, challenges: Sequence[Challenge]) -> list[Challenge]:
        return [replace(c, per_domain=self.for_challenge(c)) for c in challenges]


class PerDomainAuthenticator(RecoveringAuthenticator):
    """An authenticator proxy bound to one lineage: its challenges carry that lineage's values.

    Sent to every plugin with per-domain options, whether or not it shares
    its process: a plugin may rely on the field whenever the kernel is new
    enough to send it.
    """

    def __init__(self, process: PluginProcess, fresh: Any, checkpoints: Checkpoints | None,
                 values: PerDomainValues, desk: ChallengeDesk | None = None) -> None:
        super().__init__(process, fresh, checkpoints, desk)
        self.values = values

    def perform(self, challenges: Sequence[Challenge]) -> None:
        super().perform(self.values.attach(challenges))

    def cleanup(self, challenges: Sequence[Challenge]) -> None:
        super().cleanup(self.values.attach(challenges))


def sharing_key(manifest: Manifest, options: Mapping[str, Any], served: Mapping[str, Any],
                decision: Decision) -> str | None:
    """What lineages sharing one process of ``manifest``'s plugin must have in common.

    None when the plugin does not take per-domain values from challenges.
    Everything but the per-domain options counts, and so does how the
    process is sandboxed: the user it runs as, its limits and whether (and
    with which network rights) Landlock confines it; the confined write
    roots are checked by :func:`covers` instead, so one process may hold
    the roots of several lineages.
    """
    if not manifest.per_domain_from_challenge:
        return None
    skip = per_domain_names(manifest)
    rest = {k: v for k, v in options.items() if k not in skip}
    policy = decision.confine
    sandbox = [decision.user, decision.limits, decision.unconfined_note,
               None if policy is None else [policy.allow_connect, policy.allow_bind]]
    return manifest.name + "\0" + json.dumps([rest, served, sandbox], sort_keys=True,
                                             default=repr)


def shared_options(manifest: Manifest, options: Mapping[str, Any]) -> dict[str, Any]:
    """What a process lineages may share is started with: no lineage's per-domain values.

    Its per-domain options are sent as the manifest's defaults, so nothing
    the plugin does outside a challenge (``prepare`` checking its folders)
    depends on which lineage happened to start it: one lineage's missing
    folder must not fail the others. Each challenge carries its own values.
    """
    out = dict(options)
    for listed, mapped in manifest.per_domain_options:
        out[listed.name] = list(listed.default or [])
        out[mapped.name] = dict(mapped.default or {})
    return out


def covers(running: Decision, wanted: Decision) -> bool:
    """Whether a process started under ``running`` may serve a lineage needing ``wanted``.

    Both have the same sharing key, so only the confined write roots can
    differ: the process's must include every one the lineage writes to.
    """
    if running.confine is None or wanted.confine is None:
        return running.confine is None and wanted.confine is None
    return set(wanted.confine.write_paths) <= set(running.confine.write_paths)


def widened(manifest: Manifest, options: Mapping[str, Any],
            others: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``options`` with the per-domain values of ``others`` added, for the sandbox decision only.

    A shared process is confined once, when it starts: to serve the other
    lineages it must be allowed their roots too. The plugin never sees
    these options.
    """
    out = dict(options)
    for listed, mapped in manifest.per_domain_options:
        values = _as_list(options.get(listed.name))
        entries = {str(k): v for k, v in (options.get(mapped.name) or {}).items()}
        for n, other in enumerate(others):
            values += [v for v in _as_list(other.get(listed.name)) if v not in values]
            for key, value in (other.get(mapped.name) or {}).items():
                entries[f"{n}\0{key}"] = value
        out[listed.name] = values
        out[mapped.name] = entries
    return out


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]
