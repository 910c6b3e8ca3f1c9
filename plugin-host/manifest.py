"""Plugin manifests (``plugin.toml``, PROTOCOL.md section 8).

The kernel learns everything it needs about a plugin before starting it from
this small TOML file: its name, roles, the command that starts it and its
typed options.  ``--help``, flag parsing and ``certkernel plugins`` run on
manifests alone, so this module imports only the standard library and
reports every mistake as one ConfigurationError naming the manifest file.
"""

from __future__ import annotations

import builtins
import json
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certkernel.errors import ConfigurationError

OPTION_TYPES = frozenset({"str", "int", "bool", "path", "list", "map", "secret-file",
                          "secret-text"})
ROLES = frozenset({"authenticator", "installer"})
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variables any plugin may read: locale, time zone, proxies and CA bundles.
PUBLIC_ENV = frozenset({
    "LANG", "LANGUAGE", "TZ", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
    "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
})
# Own prefixes that would reach well-known credential families (a plugin
# named "aws" must not get AWS_SECRET_ACCESS_KEY) or the kernel's own.
RESERVED_ENV_PREFIXES = (
    "AWS_", "AZURE_", "GOOGLE_", "GCLOUD_", "GCP_", "GITHUB_", "GITLAB_", "VAULT_", "DOCKER_",
    "SSH_", "GPG_", "SUDO_", "LD_", "PYTHON", "CERTKERNEL_", "XDG_",
)
# Pass-through values of these names are not redacted from logs (they say
# where and how, not who): every other one is treated as a credential.
_NOT_SECRET_SUFFIXES = ("_URL", "_ENDPOINT", "_SERVER", "_PORT", "_NAME", "_ALGORITHM",
                        "_EMAIL", "_PROFILE", "_VERSION", "_DISABLED", "_CONFDIR", "_FILE",
                        "_CA_BUNDLE")
PRIVILEGES = ("unprivileged", "owner", "root")
NETWORK = ("none", "connect", "any")
# [confine] entries may name one thing inside the kernel's folders: write_paths a
# folder in {work_dir}, write_files a file in {config_dir}. Never the kernel's own.
_PLACED_RE = re.compile(r"^\{(work_dir|config_dir)\}/([A-Za-z0-9_.][A-Za-z0-9_.-]*)$")
RESERVED_NAMES = frozenset({"backups", "temp_checkpoint", "IN_PROGRESS", "plugins", "cli.ini",
                            "live", "archive", "renewal", "accounts", "keys", "csr",
                            "renewal-hooks", ".certbot.lock",
                            ".certkernel-checkpoints.lock"})
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


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
class Confine:
    """Where a plugin that runs as root may write, from its ``[confine]`` table.

    Why a declaration: a root plugin is confined (Landlock) to what its
    manifest says up front, so a compromised plugin cannot widen its own
    reach at run time. ``write_options`` name options whose values (a path,
    a list of paths or a map's values) are the plugin's roots;
    ``write_paths`` are fixed runtime paths (pid files, logs, temp folders),
    which may be one folder ``{work_dir}/NAME`` the kernel creates (0755);
    ``write_files`` are single files the plugin rewrites in place, which may
    be ``{config_dir}/NAME`` (created empty by the kernel if missing): the
    plugin may write those files, never create or remove others there.
    """

    write_options: tuple[str, ...] = ()
    write_paths: tuple[str, ...] = ()
    write_files: tuple[str, ...] = ()
    # TCP under Landlock: "none" (no bind, no connect), "connect" (connect, no
    # bind) or "any" (unrestricted: `nginx -t` binds the listen sockets it tests).
    network: str = "none"


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


def env_prefix(name: str) -> str:
    return name.upper().replace("-", "_") + "_"


def env_is_secret(name: str) -> bool:
    """Whether a passed-through variable's value is redacted from logs (see PROTOCOL.md)."""
    if name in ("LANG", "LANGUAGE", "TZ") or name.startswith("LC_"):
        return False
    return not name.upper().endswith(_NOT_SECRET_SUFFIXES)


def _check_env(r: _Reader, name: str, env: tuple[str, ...], foreign: Mapping[str, Any],
               origin: str) -> None:
    """A manifest may read its own prefix, public names, and (built-ins) declared others.

    Why: the kernel runs as root with the operator's environment, which may
    hold cloud credentials; a plugin must not obtain them by naming them.
    Refused as a manifest error, so the plugin is never started and
    ``certkernel plugins`` shows why, rather than run without what it asked.
    """
    prefix = env_prefix(name)
    reserved = prefix.startswith(RESERVED_ENV_PREFIXES)
    for key, reason in foreign.items():
        if not isinstance(reason, str) or not reason.strip():
            raise r.fail(f"env_foreign.{key} must be a string saying why the plugin needs it")
        if key not in env:
            raise r.fail(f"env_foreign.{key} is not listed in env")
    for key in env:
        if not _ENV_NAME_RE.match(key):
            raise r.fail(f"env: {key!r} is not a variable name")
        if key in PUBLIC_ENV or key.startswith("LC_") or (key.startswith(prefix) and not reserved):
            continue
        if key in foreign and origin == "builtin":
            continue
        if key in foreign:
            why = "only built-in plugins may declare variables outside their prefix"
        elif reserved and key.startswith(prefix):
            why = f"the prefix {prefix} belongs to others' credentials; rename the plugin"
        else:
            why = f"it is outside the plugin's prefix {prefix}"
        raise r.fail(f"env names {key}, which the plugin may not read ({why}); read "
                     f"{prefix}* variables or take credentials from a secret-file option")


def convert_value(kind: str, text: str, what: str = "value", origin: str = "") -> Any:
    """Convert ``text`` to the declared ``kind``; ConfigurationError on mismatch.

    Lists accept Certbot's renewal-conf spelling (``a, b,``) as well as a
    JSON array; maps are JSON objects (``webroot-map = {...}`` on one line).
    """
    where = f" ({origin})" if origin else ""
    raw = text.strip()
    if kind in ("str", "path", "secret-file", "secret-text"):
        return raw
    convert = _CONVERTERS.get(kind)
    if convert is None:
        raise ConfigurationError(f"{what}: unknown option type {kind!r}{where}")
    return convert(raw, what, where)


def _to_int(raw: str, what: str, where: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{what} expects an integer, got {raw!r}{where}") from None


def _to_bool(raw: str, what: str, where: str) -> bool:
    low = raw.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ConfigurationError(f"{what} expects true or false, got {raw!r}{where}")


def _to_list(raw: str, what: str, where: str) -> list[str]:
    if not raw.startswith("["):
        return [item.strip() for item in raw.split(",") if item.strip()]
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{what}: bad JSON list {raw!r}: {exc.msg}{where}") from None
    if not isinstance(value, list):
        raise ConfigurationError(f"{what} expects a list{where}")
    return [str(v) for v in value]


def _to_map(raw: str, what: str, where: str) -> dict[str, str]:
    try:
        value = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{what} expects a JSON object on one line, got {raw!r}: {exc.msg}{where}"
        ) from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{what} expects a JSON object{where}")
    return {str(k): str(v) for k, v in value.items()}


# Option type -> converter of its text (the string kinds are taken as they are).
_CONVERTERS: dict[str, Callable[[str, str, str], Any]] = {
    "int": _to_int, "bool": _to_bool, "list": _to_list, "map": _to_map,
}


def _check_default(kind: str, value: Any) -> bool:
    """Whether a TOML default fits the declared option type."""
    if value is None:
        return True
    if kind in ("str", "path", "secret-file", "secret-text"):
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "map":
        return isinstance(value, dict)
    return False


class _Reader:
    """Typed access to one TOML table with errors that name the file."""

    def __init__(self, path: Path, data: Mapping[str, Any], context: str = "") -> None:
        self.path = path
        self.data = data
        self.context = context

    def fail(self, message: str) -> ConfigurationError:
        return ConfigurationError(f"plugin manifest {self.path}: {self.context}{message}")

    def str(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(f"missing required key {key!r}")
        if not isinstance(value, str):
            raise self.fail(f"{key!r} must be a string")
        return value

    def bool(self, key: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{key!r} must be true or false")
        return value

    # The methods above shadow the builtins ``str`` and ``bool`` in this class body.
    def str_list(self, key: builtins.str, required: builtins.bool = False
                 ) -> tuple[builtins.str, ...]:
        if key not in self.data:
            if required:
                raise self.fail(f"missing required key {key!r}")
            return ()
        value = self.data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key!r} must be a list of strings")
        return tuple(value)

    def table(self, key: builtins.str) -> dict[builtins.str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"[{key}] must be a table")
        return dict(value)


def _parse_option(path: Path, plugin: str, index: int, data: Any) -> OptionSpec:
    if not isinstance(data, dict):
        raise ConfigurationError(f"plugin manifest {path}: [[options]] #{index + 1} must be a table")
    r = _Reader(path, data, f"option #{index + 1}: ")
    name = r.str("name")
    r.context = f"option {name!r}: "
    if not _NAME_RE.match(name):
        raise r.fail("name must be lowercase letters, digits and dashes")
    kind = r.str("type", "str")
    if kind not in OPTION_TYPES:
        raise r.fail(f"type {kind!r} is not one of {', '.join(sorted(OPTION_TYPES))}")
    default = data.get("default")
    if not _check_default(kind, default):
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
    )


def _parse_roots(r: _Reader, needs: Mapping[str, Any],
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


def parse_manifest(data: Mapping[str, Any], path: Path, origin: str = "builtin") -> Manifest:
    """Build a Manifest from already-decoded TOML ``data`` read from ``path``."""
    r = _Reader(path, data)
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
    needs = r.table("needs")
    roots = _parse_roots(r, needs, options)
    serialize = _Reader(path, needs, "[needs] ").bool("serialize")
    changes_nothing = _Reader(path, needs, "[needs] ").bool("changes_nothing")
    env = r.str_list("env")
    _check_env(r, name, env, r.table("env_foreign"), origin)
    timeouts = r.table("timeouts")
    for key, value in timeouts.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise r.fail(f"timeouts.{key} must be a positive number of seconds")
    sandbox = r.table("sandbox")
    privilege, reason = _parse_privilege(_Reader(path, sandbox, "[sandbox] "))
    confine = _parse_confine(_Reader(path, r.table("confine"), "[confine] "), options) \
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
        sandbox=sandbox,
        timeouts={k: float(v) for k, v in timeouts.items()},
        privilege=privilege,
        privilege_reason=reason,
        confine=confine,
        path=path.parent,
        origin=origin,
    )


def _parse_privilege(r: _Reader) -> tuple[str, str]:
    """``[sandbox] privilege`` and ``reason``: anything above unprivileged must say why."""
    privilege = r.str("privilege", "unprivileged")
    if privilege not in PRIVILEGES:
        raise r.fail(f"privilege {privilege!r} is not one of {', '.join(PRIVILEGES)}")
    reason = r.str("reason", "").strip()
    if privilege != "unprivileged" and not reason:
        raise r.fail(f'privilege = "{privilege}" needs reason = "..." saying why this plugin '
                     "cannot run as an unprivileged user")
    return privilege, reason


_ROOT_TYPES = frozenset({"path", "str", "list", "map"})


def _parse_confine(r: _Reader, options: tuple[OptionSpec, ...]) -> Confine:
    """``[confine]``: option names that hold roots, fixed runtime paths, network use."""
    known = {opt.name: opt for opt in options}
    write_options = r.str_list("write_options")
    for name in write_options:
        opt = known.get(name)
        if opt is None:
            raise r.fail(f"write_options names {name!r}, which is not one of its [[options]]")
        if opt.type not in _ROOT_TYPES:
            raise r.fail(f"write_options: option {name!r} of type {opt.type!r} cannot hold a path")
    write_paths = r.str_list("write_paths")
    write_files = r.str_list("write_files")
    for key, entries, place in (("write_paths", write_paths, "work_dir"),
                                ("write_files", write_files, "config_dir")):
        for entry in entries:
            placed = _PLACED_RE.match(entry)
            if entry.startswith("{"):
                if not placed or placed.group(1) != place or \
                        placed.group(2) in RESERVED_NAMES | {".", ".."}:
                    raise r.fail(f"{key} entry {entry!r} may only name one new entry in "
                                 f"{{{place}}} ({{{place}}}/NAME), not one of certkernel's own")
            elif not entry.startswith("/"):
                raise r.fail(f"{key} entry {entry!r} must be an absolute path")
            if "\0" in entry or "/../" in f"{entry}/":
                raise r.fail(f"{key} entry {entry!r} must not contain '..' or NUL")
    network = r.str("network", "none")
    if network not in NETWORK:
        raise r.fail(f"network {network!r} is not one of {', '.join(NETWORK)}")
    return Confine(write_options=write_options, write_paths=write_paths,
                   write_files=write_files, network=network)


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
