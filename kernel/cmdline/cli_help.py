"""``--help``, ``--help all`` and ``--help TOPIC``.

Rendered from the flag table and the manifests (no plugin runs), and each
default says where it comes from: built in, a cli.ini line, or the
environment, so a user can tell why a value is what it is.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from certkernel.cmdline.cli_flags import FLAGS, TOPICS, Flag
from certkernel.cmdline.verbs import VERBS
from certkernel.errors import ConfigurationError

if TYPE_CHECKING:
    from certkernel.plugin_host.manifest import Manifest

USAGE = """usage:
  certkernel [SUBCOMMAND] [options] [-d DOMAIN] [-d DOMAIN] ...

certkernel can obtain and install HTTPS/TLS/SSL certificates.  By default,
it will attempt to use a webserver both for obtaining and installing the
certificate."""

SHORT = """
obtain, install, and renew certificates:
    (default) run         Obtain & install a certificate in your current webserver
    certonly              Obtain or renew a certificate, but do not install it
    renew                 Renew all previously obtained certificates that are near expiry
    enhance               Add security enhancements to your existing configuration
    schedule install      Renew automatically (systemd timer, or cron); also remove, status
    -d DOMAINS            Comma-separated list of domains to obtain a certificate for

{plugins}
    -n                    Run non-interactively
    --test-cert           Obtain a test certificate from a staging server
    --dry-run             Test "renew" or "certonly" without saving any certificates to disk

manage certificates:
    certificates          Display information about certificates you have
    revoke                Revoke a certificate (supply --cert-name or --cert-path)
    delete                Delete a certificate (supply --cert-name)

manage your account:
    register              Create an ACME account
    unregister            Deactivate an ACME account
    update_account        Update an ACME account
    show_account          Display account details
    --agree-tos           Agree to the ACME server's Subscriber Agreement
    -m EMAIL              Email address for important account notifications

More detailed help:
  -h, --help [TOPIC]    print this message, or detailed help on a topic;
                        the available TOPICS are:

   all, automation, commands, paths, security, testing, or any of the
   subcommands or plugins (certonly, renew, install, register, nginx,
   apache, standalone, webroot, etc.)

Logs: /var/log/letsencrypt/letsencrypt.log (the folder is --logs-dir); a
failure names the log file that has the details.
"""


# ``certkernel SUBCOMMAND --help`` / ``--help SUBCOMMAND``: the usage line and
# a sentence for that subcommand instead of the generic header.
VERB_USAGE: dict[str, tuple[str, str]] = {
    "run": ("certkernel [run] [options] [-d DOMAIN] [-d DOMAIN] ...",
            "Obtain a certificate and install it in your web server."),
    "certonly": ("certkernel certonly [options] [-d DOMAIN] [-d DOMAIN] ...",
                 "This command obtains a TLS/SSL certificate without installing it anywhere."),
    "renew": ("certkernel renew [--cert-name CERTNAME] [options]",
              "The renew command renews all certificates that are near expiry, or the one "
              "named by --cert-name."),
    "reconfigure": ("certkernel reconfigure --cert-name CERTNAME [options]",
                    "Change the renewal settings of a certificate without renewing it. The new "
                    "settings are tried with a dry-run renewal first and saved only if it works."),
    "revoke": ("certkernel revoke (--cert-path PATH | --cert-name NAME) [options]",
               "Revoke a certificate and, by default, delete it."),
    "plugin-check": ("certkernel plugin-check NAME|PATH [plugin options]",
                     "Start a plugin (installed, or a plugin.toml / plugin folder) in scratch "
                     "space, run the protocol conformance checks and print PASS/FAIL/SKIP for "
                     "each. Exit status 1 when a check failed."),
}

# Flags that belong to another topic but are also listed under a subcommand's
# help (Certbot lists e.g. -d under certonly too), in this order.
_COMMON_OBTAIN = ("--non-interactive", "--domains", "--ip-address", "--cert-name", "--dry-run",
                  "--preferred-challenges", "--preferred-chain", "--eab-kid", "--eab-hmac-key",
                  "--eab-hmac-alg", "--force-renewal", "--expand", "--reuse-key", "--new-key",
                  "--allow-subset-of-names", "--key-type", "--run-deploy-hooks")
TOPIC_EXTRA: dict[str, tuple[str, ...]] = {
    "certonly": _COMMON_OBTAIN,
    "run": _COMMON_OBTAIN,
    "renew": ("--cert-name", "--dry-run", "--force-renewal", "--reuse-key", "--no-reuse-key",
              "--new-key", "--run-deploy-hooks", "--preferred-profile", "--required-profile",
              "--issuance-timeout", "--no-random-sleep-on-renew"),
    "reconfigure": ("--cert-name", "--run-deploy-hooks", "--pre-hook", "--post-hook",
                    "--deploy-hook", "--authenticator", "--installer", "--preferred-challenges",
                    "--preferred-profile", "--required-profile", "--reuse-key", "--no-reuse-key",
                    "--new-key", "--key-type", "--rsa-key-size", "--elliptic-curve",
                    "--http-01-port", "--http-01-address"),
    "plugin-check": ("--http-01-port", "--http-01-address", "--https-port", "--verbose"),
}


def _topic_flags(name: str, extras: bool = True) -> list[Flag]:
    """The flags shown for one topic: its extras first, then its own, each once.

    ``--help all`` lists every flag once, under its own topic (no extras).
    """
    chosen: list[Flag] = []
    for long in TOPIC_EXTRA.get(name, ()) if extras else ():
        flag = next((f for f in FLAGS if long in f.names), None)
        if flag is not None and flag not in chosen:
            chosen.append(flag)
    chosen += [f for f in FLAGS if f.topic == name and f not in chosen]
    return chosen


def _width() -> int:
    return max(60, min(100, shutil.get_terminal_size((80, 24)).columns))


def _entry(invocation: str, text: str) -> str:
    width = _width()
    indent = " " * 24
    head = f"  {invocation}"
    body = textwrap.fill(
        text, width, initial_indent=indent, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    )
    if len(head) < 23 and text:
        return head.ljust(24) + body[24:]
    return head + ("\n" + body if text else "")


def _show(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "[]"
    if isinstance(value, dict):
        import json

        return json.dumps(value)
    return str(value)


def _default_note(dest: str, builtin: Any, default_text: str | None, set_by: Mapping[str, tuple[Any, str]]) -> str:
    if dest in set_by:
        value, source = set_by[dest]
        return f"(default: {_show(value)}; set in {source})"
    return f"(default: {default_text if default_text is not None else _show(builtin)})"


def _flag_entry(flag: Flag, set_by: Mapping[str, tuple[Any, str]]) -> str:
    meta = f" {flag.metavar or flag.dest.upper()}" if flag.takes_value else ""
    if flag.choices:
        meta = " {" + ",".join(flag.choices) + "}"
    invocation = ", ".join(f"{name}{meta}" for name in flag.names)
    note = _default_note(flag.dest, flag.default, flag.default_text, set_by)
    return _entry(invocation, f"{flag.help} {note}".strip())


def _section(title: str, blurb: str, entries: Iterable[str]) -> str:
    lines = [f"{title}:", textwrap.fill(blurb, _width(), initial_indent="  ", subsequent_indent="  ")]
    lines += ["", *entries] if entries else []
    return "\n".join(lines).rstrip() + "\n"


def _plugin_section(manifest: Manifest, set_by: Mapping[str, tuple[Any, str]], kernel_flags: set[str]) -> str:
    entries = []
    for flag in FLAGS:
        if flag.topic == manifest.name:
            entries.append(_flag_entry(flag, set_by))
    for opt in manifest.options:
        if opt.flag in kernel_flags:
            continue
        meta = "" if opt.type == "bool" else f" {opt.dest.upper()}"
        names = ([f"{opt.short}{meta}"] if opt.short else []) + [f"{opt.flag}{meta}"]
        note = _default_note(opt.dest, opt.default, None, set_by)
        entries.append(_entry(", ".join(names), f"{opt.help} {note}".strip()))
    return _section(manifest.name, manifest.description or "(no description)", entries)


def _plugin_selection(manifests: Mapping[str, Manifest], set_by: Mapping[str, tuple[Any, str]]) -> str:
    entries = [_flag_entry(f, set_by) for f in FLAGS if f.topic == "plugins"]
    for name, manifest in manifests.items():
        roles = " & ".join(manifest.roles)
        entries.append(_entry(f"--{name}", f"{manifest.description} ({roles}) (default: False)"))
    return _section(
        "plugins",
        "Plugin selection: see 'certkernel plugins' for the installed plugins and their names; "
        "'--help <plugin_name>' lists the flags of one plugin.",
        entries,
    )


def _defaults_set_by(layers: list[tuple[dict[str, Any], dict[str, str]]],
                     env: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    """dest -> (value, where it was set) for defaults that are not built in."""
    set_by: dict[str, tuple[Any, str]] = {}
    if env.get("REQUESTS_CA_BUNDLE"):
        set_by["ca_bundle"] = (env["REQUESTS_CA_BUNDLE"], "environment REQUESTS_CA_BUNDLE")
    for values, sources in layers:
        for dest, value in values.items():
            set_by[dest] = (value, sources.get(dest, "a config file"))
    return set_by


def _short_help(manifests: Mapping[str, Manifest]) -> str:
    plugin_lines = "\n".join(
        textwrap.fill(m.description, 79, initial_indent=f"    --{name:<19} ",
                      subsequent_indent=" " * 26)
        for name, m in manifests.items()
    )
    return USAGE + "\n" + SHORT.format(plugins=plugin_lines)


def _topic_section(name: str, topic: str, manifests: Mapping[str, Manifest],
                   set_by: Mapping[str, tuple[Any, str]]) -> str:
    """One section of ``--help TOPIC`` (``topic``) or ``--help all``."""
    if name == "plugins":
        return _plugin_selection(manifests, set_by)
    if name in TOPICS:
        entries = [_flag_entry(f, set_by) for f in _topic_flags(name, topic != "all")]
        return _section(name, TOPICS[name] if name not in VERBS or entries else VERBS[name], entries)
    if name in manifests:
        return _plugin_section(manifests[name], set_by, {n for f in FLAGS for n in f.names})
    choices = ", ".join(["all", "commands", *TOPICS, *manifests])
    raise ConfigurationError(f"no help topic {topic!r}; topics: {choices}")


def render_help(
    topic: str | None,
    verb: str | None,
    manifests: Mapping[str, Manifest],
    layers: list[tuple[dict[str, Any], dict[str, str]]],
    env: Mapping[str, str] | None = None,
) -> str:
    """The text for ``--help [topic]`` (a subcommand's help when only a verb is given)."""
    env = os.environ if env is None else env
    set_by = _defaults_set_by(layers, env)
    if topic is None and verb is not None and verb in TOPICS:
        topic = verb
    if topic is None:
        return _short_help(manifests)
    topic = topic.lower()
    if topic == "commands":
        lines = [_entry(name, text) for name, text in VERBS.items()]
        return USAGE + "\n\n" + _section("commands", "Subcommands", lines)
    wanted = list(TOPICS) + list(manifests) if topic == "all" else [topic]
    sections = [_topic_section(name, topic, manifests, set_by) for name in wanted]
    header = USAGE
    if topic in VERB_USAGE:
        line, blurb = VERB_USAGE[topic]
        header = "usage:\n  " + line + "\n\n" + textwrap.fill(blurb, 79)
    return header + "\n\n" + "\n".join(sections)
