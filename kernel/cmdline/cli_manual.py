"""A documentation twin of the real argument parser, for the man page and completions.

The parser in :mod:`certkernel.cmdline.cli` carries no help (``--help`` is rendered
from the flag table) and has no subcommand positional (a pre-scan finds the
verb).  Tools such as argparse-manpage and shtab want both, so this module
walks every action of the real parser -- the same option strings, value
names and choices users type -- and re-adds it to a plain parser with the
flag table's help, grouped by help topic, plus the subcommand.  Anything the
real parser accepts is therefore in the manual and the completions
(tests/install checks the committed files are current).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from certkernel.cmdline.cli import build_parser
from certkernel.cmdline.cli_flags import FLAGS, TOPICS
from certkernel.cmdline.verbs import VERBS

if TYPE_CHECKING:
    from certkernel.plugin_host.manifest import Manifest

DESCRIPTION = (
    "certkernel obtains, installs, renews and revokes TLS certificates from Let's Encrypt or "
    "any RFC 8555 CA, with Certbot's commands, flags and files. Plugins run as their own "
    "processes. Options may be given before or after the subcommand; long options may also be "
    "set in /etc/letsencrypt/cli.ini (without the leading dashes)."
)
FILE_FLAGS = frozenset({"path", "secret-file"})


def _help_table(manifests: Mapping[str, Manifest]) -> dict[str, tuple[str, str, str]]:
    """option string -> (help, topic, value type) from the flag table and the manifests."""
    table: dict[str, tuple[str, str, str]] = {}
    for flag in FLAGS:
        text = flag.help
        if flag.default_text:
            text += f" (default: {flag.default_text})"
        elif flag.default not in (None, False, [], ""):
            text += f" (default: {flag.default})"
        for name in flag.names:
            table[name] = (text, flag.topic, flag.type)
    for name, manifest in manifests.items():
        roles = " & ".join(manifest.roles)
        table[f"--{name}"] = (f"{manifest.description} ({roles})", "plugins", "bool")
        for opt in manifest.options:
            text = opt.help + (f" (default: {opt.default})" if opt.default not in (None, "") else "")
            for flag_name in (opt.flag, opt.short):
                if flag_name and flag_name not in table:
                    table[flag_name] = (text, name, opt.type)
    return table


def manual_parser(manifests: Mapping[str, Manifest]) -> argparse.ArgumentParser:
    """The documentation parser (see the module docstring)."""
    real = build_parser(manifests)
    table = _help_table(manifests)
    doc = argparse.ArgumentParser(
        prog="certkernel", description=DESCRIPTION, add_help=False,
        usage="%(prog)s [SUBCOMMAND] [options] [-d DOMAIN] [-d DOMAIN] ...")
    doc.add_argument("subcommand", nargs="?", choices=list(VERBS), metavar="SUBCOMMAND",
                     help="; ".join(f"{verb}: {text}" for verb, text in VERBS.items()))
    doc.add_argument("-h", "--help", nargs="?", metavar="TOPIC",
                     help="Print help, or detailed help on a topic: all, commands, a subcommand "
                          "or a plugin name")
    doc.add_argument("--version", action="store_true", help="Print the version and exit")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for action in real._actions:
        if not action.option_strings:
            continue
        first = next((s for s in action.option_strings if s.startswith("--")),
                     action.option_strings[0])
        text, topic, kind = table.get(first, ("", "optional", "str"))
        if topic not in groups:
            title = TOPICS.get(topic) or (
                manifests[topic].description if topic in manifests else topic)
            groups[topic] = doc.add_argument_group(topic, title)
        kwargs: dict[str, object] = {"help": text.replace("%", "%%"),
                                     "dest": f"doc_{action.dest}_{len(doc._actions)}"}
        if action.nargs == 0 or kind == "bool":
            kwargs["action"] = "store_true"
        else:
            kwargs["metavar"] = action.metavar or action.dest.upper()
            if action.choices:
                kwargs["choices"] = list(action.choices)
        added = groups[topic].add_argument(*action.option_strings, **kwargs)  # type: ignore[arg-type]
        if kind in FILE_FLAGS:
            added.complete = {"bash": "_shtab_compgen_files",  # type: ignore[attr-defined]
                              "zsh": "_files"}
            if first.endswith("-dir"):
                added.complete = {"bash": "_shtab_compgen_dirs",  # type: ignore[attr-defined]
                                  "zsh": "_files -/"}
    return doc
