"""Plugin manifests (``plugin.toml``, PROTOCOL.md section 8).

The kernel learns everything it needs about a plugin before starting it from
this small TOML file: its name, roles, the command that starts it and its
typed options.  ``--help``, flag parsing and ``certkernel plugins`` run on
manifests alone, so this module (and the ``manifest_*`` modules it uses for
values, environment, confinement and TOML reading) imports only the
standard library and reports every mistake as one ConfigurationError naming
the manifest file.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certkernel.errors import ConfigurationError
from certkernel.plugin_host.manifest_confine import Confine, parse_confine, parse_privilege
from certkernel.plugin_host.manifest_env import check_env, env_prefix
from certkernel.plugin_host.manifest_env import env_is_secret as env_is_secret  # re-exported
from certkernel.plugin_host.manifest_reader import Reader
from certkernel.plugin_host.manifest_values import OPTION_TYPES, check_default, convert_value

ROLES = frozenset({"authenticator", "installer"})
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class OptionSpec:
    """One typed option a plugin accepts, as declared in its manifest.

    ``plugin`` is kept on the option so that ``flag`` and ``dest`` can be
    derived without the manifest: they must match Certbot's spelling
    (``--webroot-path`` / ``webroot_path``) so old renewal confs keep working.
    """

    plugin: str
    name: str
    type: str = "str"
    help: str = ""
    default: Any = None
    short: str = ""
    secret: bool = False
    repeatable: bool = False
    # ``per_domain = "OTHER"``: each value given applies to the ``-d`` names that
    # follow it on the command line; the kernel sends the domain -> value
    # pairing in the map option OTHER (PROTOCOL.md section 8, per-domain options).
    per_domain: str = ""

    @property
    def flag(self) -> str:
        """The long command-line flag, ``--<plugin>-<option>``."""
        return f"--{self.plugin}-{self.name}"

    @property
    def dest(self) -> str:
        """The renewal-conf key and Config key, ``<plugin>_<option>``."""
        return f"{self.plugin}_{self.name}".replace("-", "_")

    def convert(self, text: str, origin: str = "") -> Any:
        """Turn a string (from cli.ini, a renewal conf or argv) into this option's type."""
        return convert_value(self.type, text, what=self.flag, origin=origin)


@dataclass(frozen=True)
class RootOption:
    """One directory an installer may have the kernel checkpoint, restore and delete in.

    Declared in ``[needs] checkpoint_roots`` by option name; the kernel reads
    the option's value (see ``certkernel.plugin_host.roots``).  ``defaults``
    (``[needs.checkpoint_root_defaults]``) are the absolute paths the plugin
    itself falls back to when the option is empty, first existing one wins,
    so the kernel can name the same tree without knowing the plugin.
    """

    option: str
    defaults: tuple[str, ...] = ()


ROOTS_FIELD = "[needs] checkpoint_roots"


@dataclass(frozen=True)
class Manifest:
    """Everything the kernel knows about a plugin without running it."""

    name: str
    description: str
    version: str
    roles: tuple[str, ...]
    challenges: tuple[str, ...]
    command: tuple[str, ...]
    protocol_versions: tuple[int, ...]
    env: tuple[str, ...]
    options: tuple[OptionSpec, ...]
    env_foreign: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    needs: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    checkpoint_roots: tuple[RootOption, ...] = ()
    # [needs] serialize: one order at a time through this authenticator, because
    # its challenges share state that a cleanup resets (a server's config).
    serialize: bool = False
    # [needs] changes_nothing: an installer that leaves every server as it is
    # (Certbot's null installer): no server lock, no "enabled HTTPS", no rollback.
    changes_nothing: bool = False
    # [needs] per_domain_from_challenge: the plugin takes its per-domain values from
    # each challenge (its ``per_domain`` field), so lineages that differ only in
    # those values may share one process (PROTOCOL.md §8).
    per_domain_from_challenge: bool = False
    # [needs] challenge_board: an authenticator that has the kernel publish its
    # http-01 key authorizations (challenge/publish, PROTOCOL.md §5.2).
    challenge_board: bool = False
    sandbox: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    timeouts: Mapping[str, float] = field(default_factory=dict, hash=False, compare=False)
    privilege: str = "unprivileged"  # [sandbox] privilege: unprivileged, owner or root
    privilege_reason: str = ""  # [sandbox] reason: why it needs more than unprivileged
    confine: Confine | None = None
    path: Path = Path(".")
    origin: str = "builtin"

    @property
    def manifest_file(self) -> Path:
        """The plugin.toml this manifest was read from."""
        return self.path / "plugin.toml"

    @property
    def is_authenticator(self) -> bool:
        return "authenticator" in self.roles

    @property
    def is_installer(self) -> bool:
        return "installer" in self.roles

    @property
    def server_root_option(self) -> str | None:
        """The option naming the tree this installer changes (the first checkpoint root).

        Runs changing the same tree are serialized on it, and messages and
        ``plugin-check`` name it; None for plugins that change no files.
        """
        return self.checkpoint_roots[0].option if self.checkpoint_roots else None

    @property
    def env_prefix(self) -> str:
        """The prefix of the variables this plugin may read: ``dns-route53`` -> ``DNS_ROUTE53_``."""
        return env_prefix(self.name)

    @property
    def per_domain_options(self) -> tuple[tuple[OptionSpec, OptionSpec], ...]:
        """(list option, map option it fills) for every ``per_domain`` option."""
        pairs = []
        for opt in self.options:
            target = self.option(opt.per_domain) if opt.per_domain else None
            if target is not None:
                pairs.append((opt, target))
        return tuple(pairs)

    def option(self, name: str) -> OptionSpec | None:
        """The option called ``name`` (without the plugin prefix), if any."""
        for opt in self.options:
            if opt.name == name:
                return opt
        return None

    def argv(self, python: str | None = None) -> list[str]:
        """The command to start the plugin, placeholders resolved.

        ``{python}`` is the kernel's interpreter so built-in plugins run in
        the same virtualenv; ``{dir}`` is the manifest folder so a plugin
        shipped as a folder can name its own executable.
        """
        py = python or sys.executable
        return [
            part.replace("{python}", py).replace("{dir}", str(self.path)) for part in self.command
        ]


def _parse_option(path: Path, plugin: str, index: int, data: Any) -> OptionSpec:
    if not isinstance(data, dict):
        raise ConfigurationError(f"plugin manifest {path}: [[options]] #{index + 1} must be a table")
    r = Reader(path, data, f"option #{index + 1}: ")
    name = r.str("name")
    r.context = f"option {name!r}: "
    if not _NAME_RE.match(name):
        raise r.fail("name must be lowercase letters, digits and dashes")
    kind = r.str("type", "str")
    if kind not in OPTION_TYPES:
        raise r.fail(f"type {kind!r} is not one of {', '.join(sorted(OPTION_TYPES))}")
    default = data.get("default")
    if not check_default(kind, default):
        raise r.fail(f"default {default!r} does not fit type {kind!r}")
    if kind in ("secret-file", "secret-text") and default not in (None, ""):
        # The kernel reads these files as root and sends them to the plugin:
        # a default would let a plugin have root read any file for it.
        raise r.fail(f"a {kind} option may not have a default: the kernel reads the file as "
                     "root for the plugin, so only the operator names it")
    short = r.str("short", "")
    if short and not re.match(r"^-[A-Za-z]$", short):
        raise r.fail(f"short flag {short!r} must look like -x")
    return OptionSpec(
        plugin=plugin,
        name=name,
        type=kind,
        help=r.str("help", ""),
        default=default,
        short=short,
        secret=r.bool("secret", kind in ("secret-file", "secret-text")),
        repeatable=r.bool("repeatable", kind == "list"),
        per_domain=r.str("per_domain", ""),
    )


def _check_per_domain(r: Reader, options: tuple[OptionSpec, ...]) -> None:
    """``per_domain = "OTHER"``: a repeatable list option filling a map option OTHER.

    Why these rules: the kernel pairs each value with the ``-d`` names after
    it (so the option must take one value per occurrence) and sends the
    pairing as a map; two options filling one map would overwrite each other.
    """
    kinds = {opt.name: opt.type for opt in options}
    filled: set[str] = set()
    for opt in options:
        if not opt.per_domain:
            continue
        where = f"option {opt.name!r}: per_domain"
        if opt.type != "list" or not opt.repeatable:
            raise r.fail(f"{where} needs a repeatable list option (type = \"list\"), "
                         f"not {opt.type!r}")
        if kinds.get(opt.per_domain) != "map" or opt.per_domain == opt.name:
            raise r.fail(f"{where} names {opt.per_domain!r}, which must be another option of "
                         "type \"map\" declared in [[options]] (it receives domain -> value)")
        if opt.per_domain in filled:
            raise r.fail(f"{where}: {opt.per_domain!r} is already filled by another option")
        filled.add(opt.per_domain)


def _parse_roots(r: Reader, needs: Mapping[str, Any],
                 options: tuple[OptionSpec, ...]) -> tuple[RootOption, ...]:
    """``[needs] checkpoint_roots`` (+ defaults) checked against the declared options.

    ``server_root_option = "x"`` (the older, single-root spelling) still
    means ``checkpoint_roots = ["x"]``; declaring both is an error.
    """
    names: Any = needs.get("checkpoint_roots")
    legacy = needs.get("server_root_option")
    if legacy not in (None, ""):
        if names is not None:
            raise r.fail("[needs] declares both checkpoint_roots and server_root_option; "
                         "keep checkpoint_roots")
        names = [legacy]
    if names is None:
        names = []
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise r.fail(f"{ROOTS_FIELD} must be a list of option names")
    defaults: Any = needs.get("checkpoint_root_defaults", {})
    if not isinstance(defaults, dict):
        raise r.fail("[needs.checkpoint_root_defaults] must be a table of option = [paths]")
    kinds = {opt.name: opt.type for opt in options}
    out: list[RootOption] = []
    for name in dict.fromkeys(names):
        if kinds.get(name) not in ("path", "str"):
            raise r.fail(f"{ROOTS_FIELD} names {name!r}, which is not a path option "
                         "declared in [[options]]")
        paths = defaults.get(name, [])
        if not isinstance(paths, list) or not all(
            isinstance(p, str) and p.startswith("/") and p != "/" for p in paths
        ):
            raise r.fail(f"checkpoint_root_defaults.{name} must be a list of absolute paths "
                         "(not '/')")
        out.append(RootOption(name, tuple(paths)))
    unknown = sorted(set(defaults) - {root.option for root in out})
    if unknown:
        raise r.fail(f"checkpoint_root_defaults names {', '.join(unknown)}, "
                     f"which {ROOTS_FIELD} does not list")
    return tuple(out)


def _per_domain_from_challenge(r: Reader, roles: tuple[str, ...],
                               options: tuple[OptionSpec, ...]) -> bool:
    """``[needs] per_domain_from_challenge``: an authenticator with a per-domain option.

    Installer calls carry no challenge, so an installer could not tell
    which lineage's values apply.
    """
    wanted = r.bool("per_domain_from_challenge")
    if not wanted:
        return False
    if not any(opt.per_domain for opt in options):
        raise r.fail("per_domain_from_challenge = true needs a per_domain option in "
                     "[[options]]; remove it or declare one")
    if "installer" in roles:
        raise r.fail("per_domain_from_challenge = true is for authenticators only: installer "
                     "calls carry no challenge to hold the values")
    return True


def parse_manifest(data: Mapping[str, Any], path: Path, origin: str = "builtin") -> Manifest:
    """Build a Manifest from already-decoded TOML ``data`` read from ``path``."""
    r = Reader(path, data)
    name = r.str("name")
    if not _NAME_RE.match(name):
        raise r.fail(f"name {name!r} must be lowercase letters, digits and dashes")
    roles = r.str_list("roles", required=True)
    if not roles or any(role not in ROLES for role in roles):
        raise r.fail(f"roles must be a non-empty list of {sorted(ROLES)}")
    command = r.str_list("command", required=True)
    if not command:
        raise r.fail("command must not be empty")
    versions = data.get("protocol_versions", [1])
    if (
        not isinstance(versions, list)
        or not versions
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in versions)
    ):
        raise r.fail("protocol_versions must be a non-empty list of integers")
    raw_options = data.get("options", [])
    if not isinstance(raw_options, list):
        raise r.fail("options must be an array of tables ([[options]])")
    options = tuple(_parse_option(path, name, i, o) for i, o in enumerate(raw_options))
    seen: set[str] = set()
    for opt in options:
        if opt.name in seen:
            raise r.fail(f"option {opt.name!r} is declared twice")
        seen.add(opt.name)
    _check_per_domain(r, options)
    needs = r.table("needs")
    roots = _parse_roots(r, needs, options)
    serialize = Reader(path, needs, "[needs] ").bool("serialize")
    changes_nothing = Reader(path, needs, "[needs] ").bool("changes_nothing")
    from_challenge = _per_domain_from_challenge(Reader(path, needs, "[needs] "), roles, options)
    challenge_board = Reader(path, needs, "[needs] ").bool("challenge_board")
    env = r.str_list("env")
    check_env(r, name, env, r.table("env_foreign"), origin)
    timeouts = r.table("timeouts")
    for key, value in timeouts.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise r.fail(f"timeouts.{key} must be a positive number of seconds")
    sandbox = r.table("sandbox")
    privilege, reason = parse_privilege(Reader(path, sandbox, "[sandbox] "))
    confine = parse_confine(Reader(path, r.table("confine"), "[confine] "), options) \
        if "confine" in data else None
    if privilege == "owner" and (confine is None or not confine.write_options):
        raise r.fail('[sandbox] privilege = "owner" needs [confine] write_options naming the '
                     "options that hold the roots whose owner the plugin runs as")
    return Manifest(
        name=name,
        description=r.str("description", ""),
        version=r.str("version", "0"),
        roles=roles,
        challenges=r.str_list("challenges"),
        command=command,
        protocol_versions=tuple(versions),
        env=env,
        options=options,
        env_foreign={str(k): str(v) for k, v in r.table("env_foreign").items()},
        needs=needs,
        checkpoint_roots=roots,
        serialize=serialize,
        changes_nothing=changes_nothing,
        per_domain_from_challenge=from_challenge,
        challenge_board=challenge_board,
        sandbox=sandbox,
        timeouts={k: float(v) for k, v in timeouts.items()},
        privilege=privilege,
        privilege_reason=reason,
        confine=confine,
        path=path.parent,
        origin=origin,
    )


def load_manifest(path: str | Path, origin: str = "builtin") -> Manifest:
    """Read and check one ``plugin.toml`` (or the one inside a folder)."""
    file = Path(path)
    if file.is_dir():
        file = file / "plugin.toml"
    try:
        with open(file, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigurationError(f"plugin manifest {file}: file not found") from None
    except OSError as exc:
        raise ConfigurationError(f"plugin manifest {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"plugin manifest {file}: invalid TOML: {exc}") from None
    return parse_manifest(data, file.resolve(), origin)
