"""``certkernel schedule install|remove|status [systemd|cron]``: automatic renewal.

Installs whichever scheduler the host runs (a systemd timer when systemd is
PID 1, else a cron file), removes it, or says what is in place, and prints
every file it wrote or deleted and every ``systemctl`` it ran, so an
administrator can undo it by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from enum import StrEnum
from typing import TYPE_CHECKING

from certkernel import fsutil
from certkernel.errors import ConfigurationError, Error
from certkernel.renewal.schedule_units import (
    SERVICE,
    TIMER,
    TIMER_TEXT,
    Layout,
    Scheduler,
    cron_text,
    renew_command,
    service_text,
)

if TYPE_CHECKING:
    from certkernel.config import Config

SYSTEMCTL_TIMEOUT = 60
USAGE = "usage: certkernel schedule install|remove|status [systemd|cron]"


class ScheduleAction(StrEnum):
    """What ``certkernel schedule`` is asked to do (its first argument)."""

    INSTALL = "install"
    REMOVE = "remove"
    STATUS = "status"


def _say(config: Config, text: str) -> None:
    if not config.quiet:
        print(text, flush=True)


def _systemctl(config: Config, layout: Layout, *args: str) -> None:
    """Run systemctl on a live host; with a schedule root or no systemd, say what to run."""
    line = "systemctl " + " ".join(args)
    if layout.overridden or not layout.systemd_running() or shutil.which("systemctl") is None:
        _say(config, f"Not running `{line}` (systemd is not managing this root); run it when it is.")
        return
    proc = subprocess.run(["systemctl", *args], capture_output=True, text=True,
                          timeout=SYSTEMCTL_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise Error(f"`{line}` failed: {(proc.stderr or proc.stdout).strip()}")
    _say(config, f"Ran `{line}`.")


def _write(config: Config, path: os.PathLike[str] | str, text: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    fsutil.atomic_write(str(path), text, mode=0o644)
    _say(config, f"Wrote {path}")


def _remove(config: Config, path: os.PathLike[str] | str) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    _say(config, f"Removed {path}")
    return True


def _dirs(config: Config) -> dict[str, str]:
    return {"--config-dir": config.config_dir, "--work-dir": config.work_dir,
            "--logs-dir": config.logs_dir}


def _install(config: Config, layout: Layout, kind: Scheduler) -> None:
    command = renew_command(_dirs(config))
    if kind is Scheduler.SYSTEMD:
        _write(config, layout.service, service_text(command))
        _write(config, layout.timer, TIMER_TEXT)
        if layout.overridden:
            # What `systemctl enable` does, so the root is complete for a packager.
            os.makedirs(layout.timer_link.parent, mode=0o755, exist_ok=True)
            if not os.path.lexists(layout.timer_link):
                os.symlink(os.path.join("..", TIMER), layout.timer_link)
                _say(config, f"Linked {layout.timer_link} -> ../{TIMER}")
        _systemctl(config, layout, "daemon-reload")
        _systemctl(config, layout, "enable", "--now", TIMER)
        _say(config, f"Renewal runs `{command}` twice a day from {TIMER} "
                     f"(see `systemctl list-timers {TIMER}`).")
    else:
        _write(config, layout.cron, cron_text(command))
        _say(config, f"Renewal runs `{command}` twice a day from cron.")
    for other in layout.certbot_schedulers():
        _say(config, f"Note: Certbot's renewal is scheduled too ({other}); both renew the same "
                     "certificates. Disable one (e.g. `systemctl disable --now certbot.timer`).")


def _uninstall(config: Config, layout: Layout, kinds: list[Scheduler]) -> None:
    removed = False
    if Scheduler.SYSTEMD in kinds and (layout.timer.exists() or layout.service.exists()):
        _systemctl(config, layout, "disable", "--now", TIMER)
        removed |= _remove(config, layout.timer_link)
        removed |= _remove(config, layout.timer)
        removed |= _remove(config, layout.service)
        _systemctl(config, layout, "daemon-reload")
    if Scheduler.CRON in kinds:
        removed |= _remove(config, layout.cron)
    if not removed:
        _say(config, "No certkernel renewal schedule was installed; nothing removed.")


def _status(config: Config, layout: Layout) -> int:
    installed = layout.installed()
    if Scheduler.SYSTEMD in installed:
        print(f"systemd: {layout.timer} and {layout.service}", flush=True)
        if not layout.overridden and layout.systemd_running() and shutil.which("systemctl"):
            proc = subprocess.run(["systemctl", "list-timers", TIMER, "--no-pager"],
                                  capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT,
                                  check=False)
            print(proc.stdout.rstrip(), flush=True)
    if Scheduler.CRON in installed:
        print(f"cron: {layout.cron}", flush=True)
    for other in layout.certbot_schedulers():
        print(f"Certbot's renewal is scheduled too: {other}", flush=True)
    if not installed:
        print("Renewal is not scheduled. Run `certkernel schedule install`.", flush=True)
        return 1
    return 0


def run(config: Config) -> int:
    args = list(config.args)
    if not args or args[0] not in set(ScheduleAction) or len(args) > 2 or (
            len(args) == 2 and args[1] not in set(Scheduler)):
        raise ConfigurationError(USAGE)
    action = ScheduleAction(args[0])
    named = Scheduler(args[1]) if len(args) == 2 else None
    layout = Layout.from_env()
    if action is ScheduleAction.STATUS:
        return _status(config, layout)
    if action is ScheduleAction.REMOVE:
        _uninstall(config, layout, [named] if named else list(Scheduler))
        return 0
    kind = named or layout.detect()
    if kind is None:
        raise ConfigurationError(
            f"neither systemd (no {layout.path('run/systemd/system')}) nor cron (no "
            f"{layout.path('etc/cron.d')}) found: run `{renew_command(_dirs(config))}` twice "
            "a day from your scheduler, or name one: certkernel schedule install systemd|cron")
    other = Scheduler.CRON if kind is Scheduler.SYSTEMD else Scheduler.SYSTEMD
    if other in layout.installed():
        _uninstall(config, layout, [other])
    _install(config, layout, kind)
    return 0


__all__ = ["run", "SERVICE", "TIMER"]
