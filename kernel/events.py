"""Lifecycle events of certificates as pluggy hookspecs.

Why: the shell hooks (``--pre-hook``, ``renewal-hooks/deploy/`` ...) are one
way to react to "a certificate was renewed"; an in-process extension (a
metrics exporter, a notifier) is another. Both observe the same events, so
the kernel fires events and the shell hooks are just one built-in
implementation registered on the plugin manager (see
:class:`certkernel.flows.hooks.ShellHookEvents`); every verb gets its bus from
:func:`certkernel.flows.lifecycle.lifecycle`. The names and arguments are a public
interface for extension authors (docs/events.md). Hooks are called with keyword
arguments only (pluggy enforces it); an implementation may accept any
subset of them.

``pluggy`` is imported here; this module is only loaded by commands that
obtain certificates, never by ``--help``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from certkernel.config import Config
    from certkernel.lineages.storage import Lineage

PROJECT = "certkernel"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class LifecycleSpec:
    """What happens to certificates during a command run."""

    @hookspec
    def run_starting(self, config: Config, verb: str) -> None:
        """A command that may obtain certificates starts (nothing done yet)."""

    @hookspec
    def before_obtain(self, config: Config, names: Sequence[str],
                      lineage_name: str) -> None:
        """A certificate is about to be obtained (pre hooks run here)."""

    @hookspec
    def lineage_obtained(self, config: Config, lineage: Lineage | None,
                         names: Sequence[str]) -> None:
        """A new lineage was saved (``lineage`` is None in a dry run)."""

    @hookspec
    def lineage_renewed(self, config: Config, lineage: Lineage | None,
                        names: Sequence[str], dry_run: bool) -> None:
        """An existing lineage got a new version (None lineage in a dry run)."""

    @hookspec
    def renewal_failed(self, config: Config, lineage_name: str,
                       names: Sequence[str], reason: str) -> None:
        """Obtaining or renewing one lineage failed (``renew`` goes on with the others)."""

    @hookspec
    def lineage_deployed(self, config: Config, lineage: Lineage,
                         names: Sequence[str]) -> None:
        """A saved certificate is in use (deploy hooks run here).

        Not in a dry run, unless ``--run-deploy-hooks`` (then the current certificate).
        """

    @hookspec
    def run_finished(self, config: Config, verb: str,
                     failed_names: Sequence[str]) -> None:
        """The run ends, after failures too (post hooks run here)."""


def plugin_manager(*implementations: Any) -> pluggy.PluginManager:
    """A plugin manager with the lifecycle specs and ``implementations`` registered.

    Extensions installed as Python packages register under the
    ``certkernel.events`` entry-point group and are loaded too.
    """
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(LifecycleSpec)
    for impl in implementations:
        manager.register(impl)
    manager.load_setuptools_entrypoints("certkernel.events")
    return manager
