"""The verb registry: every subcommand, its help line, its module and what it needs.

One table instead of a name-to-module convention: the parser, ``--help``,
the manual and the dispatcher in :mod:`certkernel.main` all read it, and a
test imports every entry's ``run``. The command modules are imported only
when their verb runs, so ``--help`` stays free of the ACME stack.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from certkernel.config import Config
    from certkernel.plugin_host.manifest import Manifest

Command = Callable[["Config"], int]
Manifests = Mapping[str, "Manifest"]
ManifestsHook = Callable[[Sequence[str], Manifests], Manifests]


def _function(dotted: str) -> Callable[..., object]:
    """``"package.module:function"``, importing the module now."""
    module, _, name = dotted.partition(":")
    return cast(Callable[..., object], getattr(importlib.import_module(module), name))


@dataclass(frozen=True)
class Verb:
    """One subcommand.

    ``needs_log``: False for read-only listings that must work without a
    writable ``--logs-dir``. ``uses_config_dir``: False for commands that
    never touch ``--config-dir`` (no ``renewal-hooks/`` folders are made).
    ``reports_discovery``: False for a verb that shows broken manifests
    itself. ``takes_args``: words after the verb are its arguments
    (``schedule install``), not a second verb. ``aliases``: Certbot's other
    names for it. ``add_manifests``: ``"module:function(argv, manifests)"``
    returning the manifests the command line is parsed with, for a verb
    whose argument may be a plugin that is not installed.
    """

    name: str
    summary: str
    module: str
    needs_log: bool = True
    uses_config_dir: bool = True
    reports_discovery: bool = True
    takes_args: bool = False
    aliases: tuple[str, ...] = ()
    add_manifests: str = ""

    def load(self) -> Command:
        """The verb's ``run(config) -> int``, importing its module now."""
        return cast(Command, _function(self.module + ":run"))

    def manifests_for(self, argv: Sequence[str], manifests: Manifests) -> Manifests:
        """The manifests to parse ``argv`` with when this verb runs."""
        if not self.add_manifests:
            return manifests
        hook = cast(ManifestsHook, _function(self.add_manifests))
        return hook(argv, manifests)


def _verb(name: str, summary: str, *, needs_log: bool = True, uses_config_dir: bool = True,
          reports_discovery: bool = True, takes_args: bool = False,
          aliases: tuple[str, ...] = (), add_manifests: str = "") -> Verb:
    """A verb whose module is ``certkernel.commands.<name>`` (``-`` read as ``_``)."""
    return Verb(name, summary, "certkernel.commands." + name.replace("-", "_"),
                needs_log=needs_log, uses_config_dir=uses_config_dir,
                reports_discovery=reports_discovery, takes_args=takes_args,
                aliases=aliases, add_manifests=add_manifests)


REGISTRY: dict[str, Verb] = {v.name: v for v in (
    _verb("run", "Obtain & install a certificate in your current webserver (default)",
          aliases=("everything",)),
    _verb("certonly", "Obtain or renew a certificate, but do not install it", aliases=("auth",)),
    _verb("renew", "Renew all previously obtained certificates that are near expiry"),
    _verb("enhance", "Add security enhancements to your existing configuration"),
    _verb("certificates", "Display information about certificates you have"),
    _verb("delete", "Clean up all files related to a certificate (supply --cert-name)"),
    _verb("revoke", "Revoke a certificate (supply --cert-name or --cert-path)"),
    _verb("register", "Create an ACME account"),
    _verb("update_account", "Update an ACME account"),
    _verb("unregister", "Deactivate an ACME account"),
    _verb("show_account", "Display account details"),
    _verb("install", "Install an arbitrary certificate in a server"),
    _verb("rollback", "Roll back server configuration changes made during install"),
    _verb("plugins", "List plugins that are installed and available on your system",
          needs_log=False, uses_config_dir=False, reports_discovery=False),
    _verb("update_symlinks", "Recreate symlinks in your live/ directory"),
    _verb("plugin-check", "Run a plugin through the protocol conformance checks",
          uses_config_dir=False, takes_args=True,
          add_manifests="certkernel.runtime.plugin_target:with_checked_manifest"),
    _verb("reconfigure", "Update a certificate's configuration (supply --cert-name)"),
    _verb("schedule", "Install, remove or show automatic renewal "
                      "(install|remove|status [systemd|cron])", takes_args=True),
    _verb("store", "Fleet mode: copy this host's certificates into the --store, show the "
                   "fleet, make its key, print a host role's grants "
                   "(import|status|keygen|grants ROLE)", takes_args=True),
    _verb("responder", "Answer http-01 challenges from the kernel's challenge board (on "
                       "every host behind a load balancer)", uses_config_dir=False),
)}

# The help line of each verb, in the order ``--help`` lists them.
VERBS: dict[str, str] = {name: verb.summary for name, verb in REGISTRY.items()}

# Every word that names a verb (its name or an alias) -> the verb's name.
VERB_WORDS: dict[str, str] = {word: verb.name for verb in REGISTRY.values()
                              for word in (verb.name, *verb.aliases)}
