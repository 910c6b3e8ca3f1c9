"""Turning argv and cli.ini files into a :class:`~certkernel.config.Config`.

Certbot's grammar is ``certkernel [SUBCOMMAND] [options]`` with options
allowed on either side of the subcommand, which argparse's positionals
handle badly; so a pre-scan (:mod:`certkernel.cmdline.cli_scan`) that knows which
flags take a value pulls out the subcommand, ``-c`` files and ``--help
[TOPIC]`` first, and argparse then parses options only.  Every argparse default is SUPPRESS, so the namespace
holds exactly what the user typed: that is how we know what was set
explicitly (only those values are saved in renewal confs).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from certkernel.cmdline.cli_flags import FLAGS, Flag
from certkernel.cmdline.cli_help import render_help
from certkernel.cmdline.cli_scan import (
    UsageError as UsageError,  # re-exported: callers catch it here
)
from certkernel.cmdline.cli_scan import plugin_option_flags, prescan, shortcut_names
from certkernel.config import PAIRINGS, Config, build_config
from certkernel.errors import ConfigurationError
from certkernel.plugin_host.manifest_values import convert_value
from certkernel.version import __version__

if TYPE_CHECKING:
    from certkernel.plugin_host.manifest import Manifest, OptionSpec

DEFAULT_CONFIG_FILES = ("/etc/letsencrypt/cli.ini",)
_INI_LINE = re.compile(r"^(-{0,2}[A-Za-z0-9_-]+)\s*(?:[=:]\s*|\s+)(.*)$")


@dataclass(frozen=True)
class HelpRequest:
    """The user asked for help or the version: print ``text`` and exit 0."""

    text: str


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see certkernel --help)")


def _split_commas(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class _DomainsAction(argparse.Action):
    """``-d a,b``: append; pair each name with the per-domain values in force."""

    def __call__(self, parser: Any, ns: Any, values: Any, option_string: Any = None) -> None:
        names = [n.lower() for n in _split_commas(values)]
        ns.domains = list(getattr(ns, "domains", [])) + names
        pairings = dict(getattr(ns, PAIRINGS, {}))
        for dest, pairs in pairings.items():
            given = getattr(ns, dest, [])
            if given:
                pairings[dest] = {**pairs, **{n: given[-1] for n in names if n not in pairs}}
        setattr(ns, PAIRINGS, pairings)


class _PerDomainAction(argparse.Action):
    """A manifest's ``per_domain`` option (``-w PATH``): each value applies to the
    ``-d`` names that follow; a single value also to names given before it.

    Certbot's ``-w`` rule, refusal included: once a name came before the first
    value, a second value would leave it ambiguous.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._domain_before_first = False

    def __call__(self, parser: Any, ns: Any, values: Any, option_string: Any = None) -> None:
        given = list(getattr(ns, self.dest, []))
        if self._domain_before_first:
            raise ConfigurationError(
                f"If you specify multiple {option_string or self.dest} values, one of them "
                "must precede all domain flags (-d)")
        pairings = dict(getattr(ns, PAIRINGS, {}))
        pairs = dict(pairings.get(self.dest, {}))
        if not given and getattr(ns, "domains", []):
            self._domain_before_first = True
            for name in ns.domains:
                pairs.setdefault(name, values)
        pairings[self.dest] = pairs
        setattr(ns, PAIRINGS, pairings)
        setattr(ns, self.dest, given + [values])


class _ChallengesAction(argparse.Action):
    def __call__(self, parser: Any, ns: Any, values: Any, option_string: Any = None) -> None:
        ns.pref_challs = list(getattr(ns, "pref_challs", [])) + _split_commas(values)


class _ShortcutAction(argparse.Action):
    """``--nginx``, ``--webroot``…: remembered in order, resolved in config."""

    def __call__(self, parser: Any, ns: Any, values: Any, option_string: Any = None) -> None:
        ns._shortcuts = list(getattr(ns, "_shortcuts", [])) + [self.const]


class _AppendAction(argparse.Action):
    """``--ip-address A --ip-address B``: every occurrence adds one value."""

    def __call__(self, parser: Any, ns: Any, values: Any, option_string: Any = None) -> None:
        setattr(ns, self.dest, list(getattr(ns, self.dest, [])) + [values])


def _choice(flag: Flag) -> Any:
    """Choices match case-insensitively (Certbot's ``--reason cessationOfOperation``)."""
    canonical = {c.lower(): c for c in flag.choices or ()}

    def convert(text: str) -> str:
        return canonical.get(text.lower(), text)

    return convert


class _RepeatAction(argparse.Action):
    def __call__(self, parser: Any, ns: Any, values: Any, option_string: Any = None) -> None:
        setattr(ns, self.dest, list(getattr(ns, self.dest, [])) + [values])


_ACTIONS: dict[str, type[argparse.Action]] = {
    "domains": _DomainsAction, "challenges": _ChallengesAction, "append": _AppendAction,
}


def _converter(kind: str, what: str) -> Any:
    def convert(text: str) -> Any:
        return convert_value(kind, text, what=what)

    return convert


def _flag_kwargs(flag: Flag) -> dict[str, Any]:
    """argparse keywords for one kernel flag, by its kind."""
    kw: dict[str, Any] = {"dest": flag.dest}
    if flag.kind == "const":
        kw.update(action="store_const", const=flag.const)
    elif flag.kind == "count":
        kw["action"] = "count"
    else:
        kw["metavar"] = flag.metavar or flag.dest.upper()
    if flag.kind == "value" and flag.choices:
        kw.update(choices=flag.choices, type=_choice(flag))
    elif flag.kind == "value" and flag.type not in ("str", "path"):
        kw["type"] = _converter(flag.type, flag.long)
    elif flag.kind in _ACTIONS:
        kw["action"] = _ACTIONS[flag.kind]
    return kw


def _option_kwargs(opt: OptionSpec) -> dict[str, Any]:
    """argparse keywords for one plugin option, by its declared type."""
    kw: dict[str, Any] = {"dest": opt.dest}
    if opt.type == "bool":
        kw.update(nargs="?", const=True, type=_converter("bool", opt.flag))
    elif opt.type == "list" and opt.per_domain:
        kw.update(action=_PerDomainAction, metavar=opt.dest.upper())
    elif opt.type == "list" and opt.repeatable:
        kw.update(action=_RepeatAction, metavar=opt.dest.upper())
    else:
        kw.update(metavar=opt.dest.upper())
        if opt.type not in ("str", "path", "secret-file", "secret-text"):
            kw["type"] = _converter(opt.type, opt.flag)
    return kw


def build_parser(manifests: Mapping[str, Manifest]) -> argparse.ArgumentParser:
    """The argparse tree: kernel flags, one shortcut per plugin, plugin options."""
    parser = _Parser(
        prog="certkernel", add_help=False, allow_abbrev=False, argument_default=argparse.SUPPRESS
    )
    for flag in FLAGS:
        parser.add_argument(*flag.names, **_flag_kwargs(flag))
    for name in shortcut_names(manifests):
        parser.add_argument(f"--{name}", action=_ShortcutAction, nargs=0, const=name)
    shorts = {n for flag in FLAGS for n in flag.names if not n.startswith("--")}
    for opt in plugin_option_flags(manifests):
        names = [opt.flag]
        if opt.short and opt.short not in shorts:
            shorts.add(opt.short)
            names.insert(0, opt.short)
        parser.add_argument(*names, **_option_kwargs(opt))
    return parser


def default_config_files(env: Mapping[str, str]) -> list[str]:
    """Certbot's cli.ini locations: the system one, then the per-user one."""
    xdg = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME", "~"), ".config")
    return [*DEFAULT_CONFIG_FILES, os.path.join(os.path.expanduser(xdg), "letsencrypt", "cli.ini")]


def read_ini(path: str) -> list[tuple[str, str | None, int]]:
    """(key, value or None for a bare key, line number) from a cli.ini file."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"config file {path} is not UTF-8 text") from None
    entries: list[tuple[str, str | None, int]] = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text[0] in "#;" or (text.startswith("[") and text.endswith("]")):
            continue
        match = _INI_LINE.match(text)
        if match:
            entries.append((match.group(1), match.group(2).strip() or None, number))
        else:
            entries.append((text, None, number))
    return entries


def _ini_flag_value(flag: Flag, key: str, raw: str | None, where: str) -> Any:
    """The typed value a cli.ini line gives a kernel flag."""
    truthy = raw is None or raw.lower() not in ("false", "no", "off", "0")
    if flag.kind == "const":
        if raw is not None:
            convert_value("bool", raw, what=key, origin=where)
        return flag.const if truthy else (not flag.const)
    if flag.kind == "count":
        if raw is None or raw.lower() == "true":
            return 1
        return convert_value("int", raw, what=key, origin=where)
    if raw is None:
        raise ConfigurationError(f"{where}: {key!r} needs a value ({key} = ...)")
    if not flag.choices:
        return convert_value(flag.type, raw, what=key, origin=where)
    value = _choice(flag)(raw)
    if value not in flag.choices:
        raise ConfigurationError(
            f"{where}: {key} must be one of {', '.join(flag.choices)}, got {raw!r}")
    return value


def ini_layer(
    path: str, manifests: Mapping[str, Manifest]
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The values one cli.ini sets, their ``path:line`` sources and shortcuts."""
    by_key: dict[str, Flag] = {n[2:]: f for f in FLAGS for n in f.names if n.startswith("--")}
    options = {opt.flag[2:]: opt for opt in plugin_option_flags(manifests)}
    shortcuts = set(shortcut_names(manifests))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    chosen: list[str] = []
    for key, raw, line in read_ini(path):
        where = f"{path}:{line}"
        key = key.removeprefix("--")
        if key in ("config", "help", "version"):
            raise ConfigurationError(f"{where}: {key!r} cannot be set in a config file")
        if key in by_key:
            dest, value = by_key[key].dest, _ini_flag_value(by_key[key], key, raw, where)
        elif key in options:
            opt = options[key]
            if raw is None and opt.type != "bool":
                raise ConfigurationError(f"{where}: {key!r} needs a value ({key} = ...)")
            dest, value = opt.dest, True if raw is None else opt.convert(raw, where)
        elif key in shortcuts:
            if raw is None or raw.lower() not in ("false", "no", "off", "0"):
                chosen.append(key)
            continue
        else:
            raise ConfigurationError(f"{where}: unknown option {key!r} (not a certkernel flag)")
        values[dest] = value
        sources[dest] = where
    return values, sources, chosen


def parse(
    argv: Sequence[str],
    manifests: Mapping[str, Manifest],
    env: Mapping[str, str] | None = None,
) -> Config | HelpRequest:
    """argv (without the program name) -> Config, or the help text to show."""
    env = os.environ if env is None else env
    scan = prescan(argv, manifests)
    files = [f for f in default_config_files(env) if os.path.isfile(f)]
    files += [os.path.abspath(os.path.expanduser(f)) for f in scan.config_files]
    layers: list[tuple[dict[str, Any], dict[str, str]]] = []
    shortcuts: list[str] = []
    for path in files:
        values, sources, chosen = ini_layer(path, manifests)
        layers.append((values, sources))
        shortcuts += chosen
    if scan.version:
        return HelpRequest(f"certkernel {__version__}")
    if scan.help:
        return HelpRequest(render_help(scan.help_topic, scan.verb, manifests, layers, env))
    namespace = build_parser(manifests).parse_args(scan.rest)
    cli_values = dict(vars(namespace))
    shortcuts += cli_values.pop("_shortcuts", [])
    cli_values.pop("config_file", None)
    if scan.config_files:
        cli_values["config_file"] = os.path.abspath(os.path.expanduser(scan.config_files[-1]))
    layers.append((cli_values, {}))
    config = build_config(scan.verb or "run", layers, manifests, shortcuts, tuple(files), env)
    if scan.args:
        config = dataclasses.replace(config, args=tuple(scan.args))
    return config
