"""Turning argv and cli.ini files into a :class:`~certkernel.config.Config`.

Certbot's grammar is ``certkernel [SUBCOMMAND] [options]`` with options
allowed on either side of the subcommand, which argparse's positionals
handle badly; so a pre-scan that knows which flags take a value pulls out
the subcommand, ``-c`` files and ``--help [TOPIC]`` first, and argparse then
parses options only.  Every argparse default is SUPPRESS, so the namespace
holds exactly what the user typed: that is how we know what was set
explicitly (only those values are saved in renewal confs).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from certkernel.cli_flags import FLAGS, VERBS, Flag
from certkernel.config import PAIRINGS, Config, build_config
from certkernel.errors import ConfigurationError

if TYPE_CHECKING:
    from certkernel.plugin_host.manifest import Manifest, OptionSpec

DEFAULT_CONFIG_FILES = ("/etc/letsencrypt/cli.ini",)
_INI_LINE = re.compile(r"^(-{0,2}[A-Za-z0-9_-]+)\s*(?:[=:]\s*|\s+)(.*)$")
# Subcommands that take positional arguments (after the subcommand).
POSITIONAL_VERBS = frozenset({"plugin-check", "schedule"})
# Certbot's other names for subcommands: ``auth`` is ``certonly``, ``everything`` is ``run``.
VERB_ALIASES = {"auth": "certonly", "everything": "run"}
# Long options handled by the pre-scan itself rather than by the flag table.
_PRESCAN_LONG = ("--help", "--version")
_BOOL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0"})


class UsageError(ConfigurationError):
    """The command line itself is malformed (exit status 2, like argparse)."""


@dataclass(frozen=True)
class HelpRequest:
    """The user asked for help or the version: print ``text`` and exit 0."""

    text: str


@dataclass
class Scan:
    """What the pre-scan found in argv."""

    verb: str | None = None
    rest: list[str] = field(default_factory=list)
    config_files: list[str] = field(default_factory=list)
    help: bool = False
    help_topic: str | None = None
    version: bool = False
    args: list[str] = field(default_factory=list)


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
    from certkernel.plugin_host.manifest_values import convert_value

    def convert(text: str) -> Any:
        return convert_value(kind, text, what=what)

    return convert


def kernel_flag_names() -> set[str]:
    return {name for flag in FLAGS for name in flag.names}


def plugin_option_flags(manifests: Mapping[str, Manifest]) -> list[OptionSpec]:
    """Plugin options that get their own flag (kernel flags win collisions)."""
    taken = kernel_flag_names()
    result = []
    for manifest in manifests.values():
        for opt in manifest.options:
            if opt.flag not in taken:
                taken.add(opt.flag)
                result.append(opt)
    return result


def shortcut_names(manifests: Mapping[str, Manifest]) -> list[str]:
    taken = kernel_flag_names()
    return [name for name in manifests if f"--{name}" not in taken]


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


def value_flags(manifests: Mapping[str, Manifest]) -> tuple[set[str], set[str]]:
    """(flags that take a value, flags that may take a true/false value)."""
    takes = {n for flag in FLAGS if flag.takes_value for n in flag.names}
    optional: set[str] = set()
    for opt in plugin_option_flags(manifests):
        names = {opt.flag} | ({opt.short} if opt.short else set())
        (optional if opt.type == "bool" else takes).update(names)
    return takes, optional


def long_option_names(manifests: Mapping[str, Manifest]) -> list[str]:
    """Every long option the parser knows: kernel flags, plugin shortcuts and options."""
    names = {n for flag in FLAGS for n in flag.names if n.startswith("--")}
    names.update(f"--{name}" for name in shortcut_names(manifests))
    names.update(opt.flag for opt in plugin_option_flags(manifests))
    names.update(_PRESCAN_LONG)
    return sorted(names)


def expand_long_option(token: str, known: Sequence[str]) -> str:
    """``--preferred-challenge`` -> ``--preferred-challenges``, as Certbot's argparse allows.

    An exact name wins; otherwise the prefix must match exactly one option.
    Several matches, or none, is a usage error naming what was meant.
    """
    name, eq, value = token.partition("=")
    if name in known:
        return token
    matches = [k for k in known if k.startswith(name)]
    if len(matches) == 1:
        return matches[0] + eq + value
    if matches:
        raise UsageError(f"ambiguous option: {name} could match {', '.join(matches)}")
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise UsageError(f"unrecognized arguments: {name}{hint}")


def prescan(argv: Sequence[str], manifests: Mapping[str, Manifest]) -> Scan:
    """Find the subcommand, ``-c`` files and help requests; keep the options.

    Long options are expanded from unambiguous prefixes here, because only a
    full name tells whether the next word is the option's value.
    """
    takes, optional = value_flags(manifests)
    known = long_option_names(manifests)
    scan = Scan()
    args = list(argv)
    if args and args[0] == "help":
        args[0] = "--help"
    i = 0
    while i < len(args):
        token = args[i]
        if token.startswith("--") and len(token) > 2:
            token = expand_long_option(token, known)
        nxt = args[i + 1] if i + 1 < len(args) else None
        if token.startswith("-") and len(token) > 1:
            i += _scan_option(scan, token, nxt, takes, optional)
        else:
            _scan_word(scan, token)
        i += 1
    return scan


def _scan_option(scan: Scan, token: str, nxt: str | None, takes: set[str],
                 optional: set[str]) -> int:
    """Record one option (and its value); returns how many following words it used."""
    if token in ("-h", "--help"):
        scan.help = True
        if nxt is not None and not nxt.startswith("-"):
            scan.help_topic = nxt
            return 1
        return 0
    if token == "--version":
        scan.version = True
        return 0
    if token in ("-c", "--config") and nxt is not None:
        scan.config_files.append(nxt)
    elif token.startswith("--config="):
        scan.config_files.append(token.split("=", 1)[1])
    scan.rest.append(token)
    if nxt is None:
        return 0
    if token.startswith("--"):
        wants = "=" not in token and (
            token in takes or (token in optional and nxt.lower() in _BOOL_WORDS))
    else:
        # ``-nd a.test``: the first letter that takes a value takes the next word
        # only when it ends the cluster (``-dexample.com`` holds its own value).
        taking = [pos for pos in range(1, len(token)) if f"-{token[pos]}" in takes]
        wants = bool(taking) and taking[0] == len(token) - 1
    if wants:
        scan.rest.append(nxt)
    return int(wants)


def _scan_word(scan: Scan, token: str) -> None:
    """A word that is not an option: the subcommand, or a positional of one."""
    is_verb = token in VERBS or token in VERB_ALIASES
    if is_verb and scan.verb is None:
        scan.verb = VERB_ALIASES.get(token, token)
    elif scan.verb in POSITIONAL_VERBS:
        scan.args.append(token)  # before the verb check: `schedule install` is no second verb
    elif is_verb:
        raise UsageError(f"only one subcommand may be given, got {scan.verb!r} and {token!r}")
    else:
        raise UsageError(
            f"unknown subcommand or stray argument {token!r} "
            f"(subcommands: {', '.join(VERBS)})"
        )


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
    from certkernel.plugin_host.manifest_values import convert_value

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
        from certkernel.version import __version__

        return HelpRequest(f"certkernel {__version__}")
    if scan.help:
        from certkernel.cli_help import render_help

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
