"""Finding plugin manifests on this machine.

Discovery runs for every ``--help`` and ``certkernel plugins``, so it reads
TOML files and nothing else: no plugin code is imported, and Python entry
points are found by reading ``entry_points.txt`` files directly instead of
loading ``importlib.metadata`` (which costs ~50 ms here).

Search order (the first manifest with a given name wins, later duplicates are
reported with a warning, so a stray folder can never shadow a built-in):
built-ins, the ``certkernel.plugins`` entry-point group, directories from
``CERTKERNEL_PLUGIN_PATH`` and ``extra_dirs``, ``/usr/lib/certkernel/plugins``,
``/etc/certkernel/plugins``, ``$XDG_DATA_HOME/certkernel/plugins``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from certkernel.errors import ConfigurationError
from certkernel.plugin_host.manifest import Manifest, load_manifest

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "certkernel.plugins"
PATH_ENV = "CERTKERNEL_PLUGIN_PATH"
SYSTEM_DIRS = (Path("/usr/lib/certkernel/plugins"), Path("/etc/certkernel/plugins"))


@dataclass
class Discovery:
    """What discovery found: usable manifests, and the broken ones with why."""

    manifests: dict[str, Manifest] = field(default_factory=dict)
    problems: list[tuple[Path, str]] = field(default_factory=list)
    duplicates: list[tuple[str, Path, Path]] = field(default_factory=list)


def _builtin_root() -> Path:
    """The folder of the certkernel.plugins package, without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("certkernel.plugins")
    if spec is None or not spec.submodule_search_locations:
        return Path(__file__).resolve().parent.parent / "plugins"
    return Path(next(iter(spec.submodule_search_locations)))


def _manifests_under(root: Path, depth: int = 1) -> list[Path]:
    """``root/*/plugin.toml`` (and ``root/*/*/plugin.toml`` when depth is 2), sorted."""
    found: list[Path] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        if entry.name.startswith((".", "_")) or not entry.is_dir():
            continue
        candidate = Path(entry.path) / "plugin.toml"
        if candidate.is_file():
            found.append(candidate)
        if depth > 1:
            found.extend(_manifests_under(Path(entry.path), depth - 1))
    return found


def _entry_point_lines(text: str) -> Iterator[str]:
    """The values of the ``[certkernel.plugins]`` section of an entry_points.txt."""
    in_group = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            in_group = stripped == f"[{ENTRY_POINT_GROUP}]"
            continue
        if in_group and "=" in stripped and not stripped.startswith(("#", ";")):
            yield stripped.split("=", 1)[1].strip()


def _import_path() -> list[str]:
    """sys.path without the working directory: only absolute entries.

    ``python -c`` and ``python -m`` put the working directory on sys.path
    (as ``''``); whoever controls the folder certkernel runs in must not be
    able to register a plugin there.
    """
    return [entry for entry in sys.path if entry and os.path.isabs(entry)]


def _package_folder(module: str) -> Path | None:
    """The folder (or file's folder) of ``module``, found without importing anything.

    ``importlib.util.find_spec`` would import the parents of a dotted name
    and search the working directory; this walks :class:`PathFinder` over
    absolute sys.path entries, then over each parent's own locations.
    """
    from importlib.machinery import PathFinder

    search: list[str] | None = _import_path()
    spec = None
    parts = module.split(".")
    for depth in range(1, len(parts) + 1):
        if search is None:
            return None
        try:
            spec = PathFinder.find_spec(".".join(parts[:depth]), search)
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        locations = spec.submodule_search_locations
        search = list(locations) if locations else None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def _resolve_entry_point(value: str, dist_dir: Path) -> Path | None:
    """An entry point value is a folder, a manifest path, or a package name.

    A relative path is relative to the folder holding the distribution's
    metadata (site-packages), never to the working directory; a bare name is
    a package name and nothing else, even if a folder of that name is here.
    """
    candidate = Path(value)
    if candidate.is_absolute() or "/" in value or value.endswith(".toml"):
        if not candidate.is_absolute():
            candidate = dist_dir.parent / value
        if candidate.is_dir():
            return candidate / "plugin.toml"
        return candidate if candidate.exists() else None
    module = value.split(":", 1)[0].strip()
    if not module or not all(part.isidentifier() for part in module.split(".")):
        return None
    folder = _package_folder(module)
    return folder / "plugin.toml" if folder is not None else None


def _entry_point_manifests() -> Iterator[tuple[Path | None, str]]:
    """(manifest path or None, description) for each entry point in our group."""
    for entry in _import_path():
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            ep_file = Path(entry, name, "entry_points.txt")
            try:
                text = ep_file.read_text(encoding="utf-8")
            except OSError:
                continue
            if ENTRY_POINT_GROUP not in text:
                continue
            for value in _entry_point_lines(text):
                yield _resolve_entry_point(value, ep_file.parent), f"entry point {value!r} in {ep_file}"


def _user_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or os.path.join(env.get("HOME", "~"), ".local", "share")
    return Path(os.path.expanduser(base)) / "certkernel" / "plugins"


def candidate_files(
    extra_dirs: Iterable[str | Path] = (), env: Mapping[str, str] | None = None
) -> Iterator[tuple[Path, str]]:
    """Every manifest file to try, in priority order, with its origin label."""
    env = os.environ if env is None else env
    for path in _manifests_under(_builtin_root(), depth=2):
        yield path, "builtin"
    for ep_path, label in _entry_point_manifests():
        if ep_path is not None:
            yield ep_path, label
    dirs: list[Path] = [Path(d) for d in env.get(PATH_ENV, "").split(os.pathsep) if d]
    dirs.extend(Path(d) for d in extra_dirs)
    for directory in dirs:
        if (directory / "plugin.toml").is_file():
            yield directory / "plugin.toml", str(directory)
        for path in _manifests_under(directory):
            yield path, str(directory)
    for directory in (*SYSTEM_DIRS, _user_dir(env)):
        for path in _manifests_under(directory):
            yield path, str(directory)


def discover_all(
    extra_dirs: Iterable[str | Path] = (), env: Mapping[str, str] | None = None
) -> Discovery:
    """Find every manifest; keep broken ones as problems instead of failing."""
    result = Discovery()
    seen_files: set[Path] = set()
    for path, origin in candidate_files(extra_dirs, env):
        resolved = path.resolve()
        if resolved in seen_files:
            continue
        seen_files.add(resolved)
        try:
            manifest = load_manifest(resolved, origin)
        except ConfigurationError as exc:
            result.problems.append((resolved, str(exc)))
            continue
        first = result.manifests.get(manifest.name)
        if first is not None:
            result.duplicates.append((manifest.name, first.manifest_file, resolved))
            continue
        result.manifests[manifest.name] = manifest
    return result


def discover(
    extra_dirs: Iterable[str | Path] = (), env: Mapping[str, str] | None = None
) -> dict[str, Manifest]:
    """Name -> Manifest for every usable plugin; problems become warnings."""
    result = discover_all(extra_dirs, env)
    report(result)
    return result.manifests


def report(result: Discovery) -> None:
    """Log a warning for each broken or shadowed manifest."""
    for path, message in result.problems:
        logger.warning("ignoring plugin: %s", message if str(path) in message else f"{path}: {message}")
    for name, first, dup in result.duplicates:
        logger.warning("plugin %r at %s ignored: %s already provides it", name, dup, first)
