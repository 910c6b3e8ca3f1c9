"""``certkernel plugins``: what plugins are installed, from their manifests.

Listing reads manifests only (fast, nothing spawned).  ``--init`` starts each
listed plugin through the plugin host and shakes hands; ``--prepare`` also
calls ``prepare``.  As in Certbot, a plugin whose software is not installed
(NoInstallationError) is hidden, a misconfigured one is shown with its error.
Broken manifests are listed at the end so a plugin author sees why theirs
is missing.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TYPE_CHECKING

from certkernel import errors
from certkernel.config import Config
from certkernel.display import Display
from certkernel.plugin_host.manifest import Manifest
from certkernel.plugin_host.sandbox import Decision, decide
from certkernel.protocol import methods as wire
from certkernel.protocol.wire_codec import WireError
from certkernel.terminal_text import clean

if TYPE_CHECKING:
    from certkernel.plugin_host.process import PluginProcess

logger = logging.getLogger(__name__)
RULE = "- " * 39 + "-"


def _describe(manifest: Manifest) -> list[str]:
    interfaces = [role.capitalize() for role in manifest.roles] + ["Plugin"]
    lines = [
        f"* {manifest.name}",
        f"Description: {manifest.description}",
        f"Interfaces: {', '.join(interfaces)}",
    ]
    if manifest.challenges:
        lines.append(f"Challenges: {', '.join(manifest.challenges)}")
    lines.append(f"Version: {manifest.version}")
    lines.append(f"Manifest: {manifest.manifest_file} ({manifest.origin})")
    return lines


def _decision(manifest: Manifest, config: Config, create_account: bool = False) -> Decision:
    """Who the plugin runs as with these options, confined to what, and why."""
    return decide(manifest, config.plugin_user, config.plugin_options(manifest),
                  work_dir=config.work_dir, config_dir=config.config_dir,
                  state_dir=os.path.join(config.work_dir, "plugins", manifest.name),
                  create_account=create_account)


def _runs_as(manifest: Manifest, config: Config) -> tuple[str, str]:
    """("Runs as" text, a note when confinement is unavailable); errors are shown, not raised."""
    try:
        decision = _decision(manifest, config)
    except errors.Error as exc:
        return f"error: {exc}", ""
    text = decision.why
    if manifest.privilege == "owner" and decision.user is None and not config.plugin_user:
        text += " (decided per run: the owner of its roots when they all have one non-root owner)"
    return text, decision.unconfined_note


def _selected(config: Config) -> list[Manifest]:
    manifests = list(config.manifests.values())
    if config.authenticators or config.installers:
        manifests = [
            m for m in manifests
            if (config.authenticators and m.is_authenticator)
            or (config.installers and m.is_installer)
        ]
    return sorted(manifests, key=lambda m: m.name)


def _settings(config: Config) -> dict[str, object]:
    return {
        "dry_run": config.dry_run,
        "non_interactive": config.noninteractive_mode,
        "http01_port": config.http01_port,
        "http01_address": config.http01_address,
        "https_port": config.https_port,
        "config_dir": config.config_dir,
        "work_dir": config.work_dir,
        "logs_dir": config.logs_dir,
    }


def _probe(manifest: Manifest, config: Config, display: Display) -> list[str] | None:
    """Start (and prepare) one plugin; the lines to add, or None to hide it."""
    # Deferred (tests/kernel/test_heavy_imports.py lists it): starting a plugin needs
    # the plugin host's launcher and the protocol registry (~50 ms to import),
    # which listing plugins without --init/--prepare (bench/startup.py) must not pay.
    from certkernel.plugin_host.launch import start_plugin
    from certkernel.plugin_host.sandbox_paths import make_placed
    from certkernel.plugin_host.services import KernelServices

    services = KernelServices(manifest.name, display=display)
    try:
        decision = _decision(manifest, config, create_account=True)
        if decision.confine is not None:
            make_placed(manifest, config.work_dir, config.config_dir)
        process = start_plugin(
            manifest,
            services.handle,
            options=config.plugin_options(manifest),
            settings=_settings(config),
            state_dir=os.path.join(config.work_dir, "plugins", manifest.name),
            user=decision.user,
            limits=decision.limits,
            confine=decision.confine,
        )
    except errors.NoInstallationError:
        return None
    except (errors.Error, OSError) as exc:
        return [f"Initialized: error: {exc}"]
    lines = [f"Initialized: yes (plugin version {process.info.get('version', '?')})"]
    try:
        text = _more_info(process)
        if text:
            lines.append(f"More info: {text}")
        if config.prepare:
            try:
                process.call("prepare", wire.encode("prepare", wire.Empty()))
                lines.append("Prep: True")
            except errors.NoInstallationError:
                return None
            except errors.Error as exc:
                lines.append(f"Prep: error: {exc}")
    finally:
        process.close()
    return lines


def _more_info(process: PluginProcess) -> str:
    """The plugin's ``more_info`` paragraph, cleaned for the terminal; "" when it has none.

    ``more_info`` is optional (PROTOCOL.md §4): MethodNotFound means no text.
    Any other failure is shown, since the plugin claims to answer it.
    """
    try:
        reply = process.call("more_info", wire.encode("more_info", wire.Empty()))
        text = wire.decode_result("more_info", reply, wire.MoreInfoResult).text
    except errors.MethodNotFound:
        return ""
    except errors.Error as exc:
        return f"error: {exc}"
    except WireError as exc:
        return f"error: {exc}"
    return " ".join(clean(text).split())


def run(config: Config) -> int:
    """Print the plugin list in Certbot's style."""
    display = Display.from_config(config)
    if config.json:
        return _print_json(config, display)
    blocks: list[str] = []
    notes: list[str] = []
    for manifest in _selected(config):
        lines = _describe(manifest)
        runs_as, note = _runs_as(manifest, config)
        lines.append(f"Runs as: {runs_as}")
        if note and note not in notes:
            notes.append(note)
        if config.init or config.prepare:
            extra = _probe(manifest, config, display)
            if extra is None:
                logger.debug("plugin %s hidden: its software is not installed", manifest.name)
                continue
            lines += extra
        blocks.append("\n".join(lines))
    problems = config.plugin_problems
    body = "\n\n".join(blocks) if blocks else "No plugins found."
    if notes:
        body += "\n\n" + "\n".join(f"Note: {note}." for note in notes)
    display.notification(f"{RULE}\n{body}\n{RULE}", wrap=False, force=True)
    if problems:
        text = "\n".join(f"* {message}" for message in problems)
        display.notification(f"Plugins with broken manifests (ignored):\n{text}", wrap=False, force=True)
    return 0


def _print_json(config: Config, display: Display) -> int:
    """``plugins --json``: schema ``certkernel.plugins/1`` (docs/json.md)."""
    entries: list[dict[str, object]] = []
    for manifest in _selected(config):
        entry: dict[str, object] = {
            "name": manifest.name, "description": manifest.description,
            "version": manifest.version, "roles": list(manifest.roles),
            "challenges": list(manifest.challenges),
            "manifest": str(manifest.manifest_file), "origin": manifest.origin,
            "runs_as": _runs_as(manifest, config)[0],
        }
        unconfined = _runs_as(manifest, config)[1]
        if unconfined:
            entry["unconfined"] = unconfined
        if config.init or config.prepare:
            extra = _probe(manifest, config, display)
            if extra is None:
                continue
            entry["probe"] = extra
        entries.append(entry)
    sys.stdout.write(json.dumps({"schema": "certkernel.plugins/1", "plugins": entries,
                                 "broken_manifests": list(config.plugin_problems)},
                                indent=2) + "\n")
    return 0
