"""``certkernel plugin-check NAME|PATH``: the protocol conformance kit for plugin authors.

Starts the plugin (an installed one by name, or any ``plugin.toml`` / plugin
folder by path) in scratch space, runs the checks of
``certkernel.conformance`` and prints one PASS/FAIL/SKIP line per check.
Exit status 0 when nothing failed, 1 otherwise. Plugin options are given as
usual (``--webroot-path``, ``--nginx-server-root``...); nothing outside the
scratch folder is changed.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from certkernel import errors
from certkernel.checkpoints.reverter import Reverter
from certkernel.config import Config
from certkernel.conformance.context import Context
from certkernel.conformance.installer_checks import ROOT_COPY, installer_round_trip
from certkernel.conformance.report import Report
from certkernel.conformance.runner import run_suite
from certkernel.display import say
from certkernel.fleet.challenge_board import LocalBoard
from certkernel.plugin_host.services import KernelServices
from certkernel.runtime.challenge_desk import ChallengeDesk
from certkernel.runtime.plugin_runtime import read_secrets
from certkernel.runtime.plugin_target import resolve


class _MemoryStorage:
    """Plugin storage for the run only: checks must not touch .pluginstorage.json."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Any] = {}

    def get(self, plugin: str, key: str) -> tuple[bool, Any]:
        found = (plugin, key) in self.values
        return found, self.values.get((plugin, key))

    def put(self, plugin: str, key: str, value: Any) -> None:
        self.values[(plugin, key)] = value

    def delete(self, plugin: str, key: str) -> None:
        self.values.pop((plugin, key), None)


def run(config: Config) -> int:
    """Check one plugin; 0 when every check passed or was skipped, 1 otherwise."""
    args = list(getattr(config, "args", ()))
    if len(args) != 1:
        raise errors.ConfigurationError(
            "plugin-check needs exactly one plugin: a name from 'certkernel plugins' or the path "
            "of a plugin.toml or plugin folder"
        )
    manifest = resolve(args[0], dict(config.manifests))
    user_options = frozenset(o.name for o in manifest.options if config.is_set(o.dest))
    # --http-01-port/--http-01-address, when given, are where a plugin that
    # takes http-01 sockets is tested; otherwise a free loopback port.
    http01_port = config.http01_port if config.is_set("http01_port") else None
    http01_address = config.http01_address if config.is_set("http01_address") else ""
    with tempfile.TemporaryDirectory(prefix="certkernel-plugin-check-") as scratch:
        settings = {
            "dry_run": False, "non_interactive": True, "staging": False,
            "http01_port": config.http01_port, "http01_address": config.http01_address,
            "https_port": config.https_port, "debug_challenges": False,
            "verbosity": config.verbose_count,
            "config_dir": os.path.join(scratch, "config"),
            "work_dir": os.path.join(scratch, "work"),
            "logs_dir": os.path.join(scratch, "logs"),
        }
        options = config.plugin_options(manifest)
        # A plugin that publishes through the kernel gets a board in scratch space,
        # never this host's (a responder may be serving that one).
        desk = (ChallengeDesk(LocalBoard(os.path.join(scratch, "board")), manifest.name)
                if manifest.needs.get("challenge_board") else None)
        ctx = Context(
            manifest=manifest,
            options=options,
            secrets=read_secrets(manifest, options),
            scratch=scratch,
            report=Report(manifest.name),
            settings=settings,
            user_options=user_options,
            http01_port=http01_port,
            http01_address=http01_address,
            desk=desk,
        )
        say(config, f"Checking plugin {manifest.name} ({manifest.manifest_file}) against protocol 1")
        with Reverter(os.path.join(scratch, "checkpoints"),
                      lock_timeout=config.lock_timeout) as reverter:
            # Nothing outside the scratch folder: only where the round trip
            # puts its copy of the server root may be checkpointed.
            services = KernelServices(manifest.name, storage=_MemoryStorage(),
                                      checkpoints=reverter,
                                      roots=[os.path.join(os.path.realpath(scratch), ROOT_COPY)],
                                      challenges=desk)
            report = run_suite(ctx, services.handle, installer_round_trip)
    say(config, report.render())
    return 1 if report.failed else 0
