"""Listing lineages, finding ones that cover given names, choosing new names.

``certonly`` must decide between keep, renew, expand and duplicate by
comparing the requested names with every existing lineage's names, and
``renew``/``certificates`` walk all of them; a broken lineage must not stop
the walk, so :func:`scan` returns the failures next to the lineages.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from certkernel.errors import StorageError, ValidationError
from certkernel.names import validate_cert_name

if TYPE_CHECKING:
    from certkernel.storage import Lineage

MAX_COLLISIONS = 9999


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


def conf_paths(config_dir: str) -> list[str]:
    """``renewal/*.conf`` in byte order (temp files of interrupted writes skipped)."""
    renewal = os.path.join(config_dir, "renewal")
    try:
        names = sorted(os.listdir(renewal))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError(f"cannot list {renewal}: {exc.strerror}") from exc
    return [os.path.join(renewal, n) for n in names if n.endswith(".conf") and not n.startswith(".")]


def scan(config_dir: str, *, repair: bool = True) -> ScanResult:
    """Load every lineage of ``config_dir``; failures are collected, not raised."""
    from certkernel.storage import Lineage

    result = ScanResult()
    for path in conf_paths(config_dir):
        try:
            result.lineages.append(Lineage.from_conf(config_dir, path, repair=repair))
        except StorageError as exc:
            result.errors.append((path, exc))
    return result


def find_all(config_dir: str) -> list[Lineage]:
    """Every lineage that loads (use :func:`scan` to also see the broken ones)."""
    return scan(config_dir).lineages


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


def _has_conf(config_dir: str, name: str) -> bool:
    return os.path.lexists(os.path.join(config_dir, "renewal", f"{name}.conf"))


def unique_name(config_dir: str, name: str) -> str:
    """``name`` if no lineage uses it, else ``name-0001``, ``name-0002``...

    A name is taken when its renewal conf exists. Archive and live
    directories without a conf are what a create killed before its last
    step leaves; they are reused (nothing in them is overwritten: new
    archive files take the next free version number).
    """
    validate_cert_name(name)
    if not _has_conf(config_dir, name):
        return name
    for n in range(1, MAX_COLLISIONS + 1):
        candidate = f"{name}-{n:04d}"
        if not _has_conf(config_dir, candidate):
            return candidate
    raise StorageError(f"too many lineages named {name}-NNNN in {config_dir}/renewal")
