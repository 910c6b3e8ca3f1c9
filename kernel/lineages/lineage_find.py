"""Listing lineages, finding ones that cover given names, choosing new names.

``certonly`` must decide between keep, renew, expand and duplicate by
comparing the requested names with every existing lineage's names, and
``renew``/``certificates`` walk all of them; a broken lineage must not stop
the walk, so :func:`scan` returns the failures next to the lineages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from certkernel.errors import StorageError, ValidationError
from certkernel.lineages.storage import Lineage, conf_paths


@dataclass
class ScanResult:
    """Every lineage that loaded, and ``(conf path, error)`` for the rest."""

    lineages: list[Lineage] = field(default_factory=list)
    errors: list[tuple[str, StorageError]] = field(default_factory=list)


@dataclass
class NameMatches:
    """Existing lineages compared with a requested name set.

    ``exact``: same names (renew or keep). ``subset``: the lineage's names
    are a strict subset of the request (``--expand`` grows it).
    ``superset``: the lineage already covers every requested name and more.
    """

    exact: list[Lineage] = field(default_factory=list)
    subset: list[Lineage] = field(default_factory=list)
    superset: list[Lineage] = field(default_factory=list)
    errors: list[tuple[str, StorageError]] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.exact or self.subset or self.superset)


def scan(config_dir: str, *, repair: bool = True) -> ScanResult:
    """Load every lineage of ``config_dir``; failures are collected, not raised."""
    result = ScanResult()
    for path in conf_paths(config_dir):
        try:
            result.lineages.append(Lineage.from_conf(config_dir, path, repair=repair))
        except StorageError as exc:
            result.errors.append((path, exc))
    return result


def find_by_names(
    config_dir: str, names: Iterable[str], lineages: list[Lineage] | None = None
) -> NameMatches:
    """Compare ``names`` (normalized) with each lineage's certificate names."""
    wanted = set(names)
    matches = NameMatches()
    if lineages is None:
        found = scan(config_dir)
        lineages, matches.errors = found.lineages, found.errors
    for lineage in lineages:
        try:
            have = set(lineage.names)
        except (StorageError, ValidationError) as exc:
            err = exc if isinstance(exc, StorageError) else StorageError(str(exc))
            matches.errors.append((lineage.renewal_conf_path, err))
            continue
        if have == wanted:
            matches.exact.append(lineage)
        elif have < wanted:
            matches.subset.append(lineage)
        elif have > wanted:
            matches.superset.append(lineage)
    return matches


