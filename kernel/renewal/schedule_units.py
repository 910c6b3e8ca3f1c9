"""What runs ``certkernel renew`` on its own: a systemd timer or a cron line.

The unit texts, where each lives, how to tell which scheduler a host has, and
what is installed now.  Kept apart from the command so ``certonly`` can say
whether renewal is scheduled without importing anything heavy.

Names follow Certbot's packages (``certbot.timer``/``certbot.service``,
``/etc/cron.d/certbot``): ``certkernel.timer``, ``certkernel.service``,
``/etc/cron.d/certkernel``.  ``CERTKERNEL_SCHEDULE_ROOT`` prefixes every path
(as DESTDIR does for ``make install``), for packagers and tests; with it set,
nothing outside that folder is touched and ``systemctl`` is not run.
"""

from __future__ import annotations

import os
import random
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Scheduler(StrEnum):
    """What runs the renewals; also the word a user types (``schedule install cron``)."""

    SYSTEMD = "systemd"
    CRON = "cron"


ROOT_ENV = "CERTKERNEL_SCHEDULE_ROOT"
SYSTEMD_DIR = "etc/systemd/system"  # where an administrator's units live (systemd reads it first)
SYSTEMD_RUNNING = "run/systemd/system"  # exists iff systemd is PID 1 (sd_booted(3))
CRON_DIR = "etc/cron.d"
SERVICE = "certkernel.service"
TIMER = "certkernel.timer"
CRON_FILE = "certkernel"
WANTS = "timers.target.wants"

# Certbot's own schedulers: two renewers on one /etc/letsencrypt is a mistake worth a line.
CERTBOT_SCHEDULERS = (
    "etc/systemd/system/timers.target.wants/certbot.timer",
    "etc/systemd/system/timers.target.wants/snap.certbot.renew.timer",
    "etc/cron.d/certbot",
)

DEFAULT_DIRS = {"--config-dir": "/etc/letsencrypt", "--work-dir": "/var/lib/letsencrypt",
                "--logs-dir": "/var/log/letsencrypt"}

SERVICE_TEXT = """\
# Written by `certkernel schedule install`; `certkernel schedule remove` deletes it.
# Renews every certificate that is due (a no-op otherwise), as certbot.service does.
[Unit]
Description=Renew certificates with certkernel
Documentation=man:certkernel(1)
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart={command}
# Hardening that renew tolerates.  Not set, on purpose: ProtectSystem,
# ProtectHome, ReadWritePaths and CapabilityBoundingSet.  renew writes
# /etc/letsencrypt, /var/lib/letsencrypt and /var/log/letsencrypt, but its
# plugins also write web roots and server configs (/etc/nginx, /etc/apache2),
# reload servers, bind port 80 (standalone) and may create the system user
# plugins run as (/etc/passwd): paths only the administrator knows.  To
# tighten further, see docs/scheduling.md (a drop-in with ProtectSystem=strict).
PrivateTmp=true
NoNewPrivileges=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectClock=true
ProtectHostname=true
LockPersonality=true
RestrictRealtime=true
RestrictSUIDSGID=true
SystemCallArchitectures=native
"""

TIMER_TEXT = """\
# Written by `certkernel schedule install`; `certkernel schedule remove` deletes it.
[Unit]
Description=Run certkernel renew twice daily
Documentation=man:certkernel(1)

[Timer]
OnCalendar=*-*-* 00,12:00:00
RandomizedDelaySec=43200
Persistent=true

[Install]
WantedBy=timers.target
"""

CRON_TEXT = """\
# Written by `certkernel schedule install`; `certkernel schedule remove` deletes it.
# Renews every certificate that is due, twice a day at a time picked at install
# (so not every host asks the CA at once).
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
{minute} {hour1},{hour2} * * * root {command}
"""


@dataclass(frozen=True)
class Layout:
    """Where each scheduler's files go under ``root`` ("/" on a real host)."""

    root: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Layout:
        env = os.environ if env is None else env
        return cls(Path(env.get(ROOT_ENV) or "/"))

    @property
    def overridden(self) -> bool:
        return self.root != Path("/")

    def path(self, rel: str) -> Path:
        return self.root / rel

    @property
    def service(self) -> Path:
        return self.path(SYSTEMD_DIR) / SERVICE

    @property
    def timer(self) -> Path:
        return self.path(SYSTEMD_DIR) / TIMER

    @property
    def timer_link(self) -> Path:
        return self.path(SYSTEMD_DIR) / WANTS / TIMER

    @property
    def cron(self) -> Path:
        return self.path(CRON_DIR) / CRON_FILE

    def systemd_running(self) -> bool:
        return self.path(SYSTEMD_RUNNING).is_dir()

    def has_cron(self) -> bool:
        return self.path(CRON_DIR).is_dir()

    def detect(self) -> Scheduler | None:
        """``systemd`` when it is PID 1, else ``cron`` when /etc/cron.d exists, else None."""
        if self.systemd_running():
            return Scheduler.SYSTEMD
        if self.has_cron():
            return Scheduler.CRON
        return None

    def installed(self) -> list[Scheduler]:
        """Which of our schedulers have files in place."""
        found = []
        if self.timer.exists() and self.service.exists():
            found.append(Scheduler.SYSTEMD)
        if self.cron.exists():
            found.append(Scheduler.CRON)
        return found

    def certbot_schedulers(self) -> list[Path]:
        return [self.path(rel) for rel in CERTBOT_SCHEDULERS if os.path.lexists(self.path(rel))]


def certkernel_command() -> list[str]:
    """How to start this very certkernel from a scheduler: absolute, no PATH lookup."""
    script = Path(sys.executable).parent / "certkernel"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "certkernel"]


def renew_command(dirs: Mapping[str, str]) -> str:
    """``certkernel renew -q`` plus the directories that differ from the defaults."""
    argv = [*certkernel_command(), "renew", "-q"]
    for flag, default in DEFAULT_DIRS.items():
        value = dirs.get(flag)
        if value and os.path.abspath(value) != default:
            argv += [flag, os.path.abspath(value)]
    return shlex.join(argv)


def service_text(command: str) -> str:
    return SERVICE_TEXT.format(command=command)


def cron_text(command: str, rng: random.Random | None = None) -> str:
    rng = rng or random.SystemRandom()
    hour = rng.randrange(12)
    return CRON_TEXT.format(minute=rng.randrange(60), hour1=hour, hour2=hour + 12,
                            command=command)


def renewal_note(env: Mapping[str, str] | None = None) -> str:
    """What ``certonly``/``run`` say after a first certificate, as Certbot does."""
    layout = Layout.from_env(env)
    if layout.installed():
        return ("certkernel has set up a scheduled task to automatically renew this "
                "certificate in the background.")
    if layout.certbot_schedulers():
        return ("Certbot's scheduled task will renew this certificate in the background. "
                "To let certkernel renew it instead, run `certkernel schedule install` "
                "and disable Certbot's.")
    return ("NEXT STEPS:\n- The certificate will need to be renewed before it expires. "
            "To renew it automatically in the background, run `certkernel schedule install` "
            "(a systemd timer, or a cron job where systemd is not running).")
