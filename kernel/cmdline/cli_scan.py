"""The pre-scan of argv: subcommand, ``-c`` files and help, before argparse.

Certbot's grammar allows options on either side of the subcommand, which
argparse's positionals handle badly; so this pass, which knows which flags
take a value (the kernel's table and the manifests' options), finds the
subcommand, the config files and ``--help [TOPIC]`` and leaves argparse only
options to parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from certkernel.cmdline.cli_flags import FLAGS
from certkernel.cmdline.verbs import REGISTRY, VERB_WORDS, VERBS
from certkernel.errors import ConfigurationError

if TYPE_CHECKING:
    from certkernel.plugin_host.manifest import Manifest, OptionSpec

# Long options handled by the pre-scan itself rather than by the flag table.
_PRESCAN_LONG = ("--help", "--version")
_BOOL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0"})


class UsageError(ConfigurationError):
    """The command line itself is malformed (exit status 2, like argparse)."""


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
    is_verb = token in VERB_WORDS
    if is_verb and scan.verb is None:
        scan.verb = VERB_WORDS[token]
    elif scan.verb is not None and REGISTRY[scan.verb].takes_args:
        scan.args.append(token)  # before the verb check: `schedule install` is no second verb
    elif is_verb:
        raise UsageError(f"only one subcommand may be given, got {scan.verb!r} and {token!r}")
    else:
        raise UsageError(
            f"unknown subcommand or stray argument {token!r} "
            f"(subcommands: {', '.join(VERBS)})"
        )
