"""``certkernel schedule``: the units and cron line it writes, where, and what it says.

Run as a user runs it (the console script in a subprocess).  The host's
scheduler is simulated with ``CERTKERNEL_SCHEDULE_ROOT``: ``run/systemd/system``
in that root is how systemd says it is PID 1 (sd_booted), ``etc/cron.d`` how
cron says it is installed.  The units are checked by ``systemd-analyze
verify``, and the folder they land in is checked against the unit search
path systemd itself prints.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.cli_run import Dirs

CERTKERNEL = str(Path(sys.executable).with_name("certkernel"))
TIMEOUT = 60


def schedule(root: Path, dirs: Dirs, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CERTKERNEL_SCHEDULE_ROOT=str(root))
    return subprocess.run([CERTKERNEL, "schedule", *args, *dirs.args()], capture_output=True,
                          text=True, timeout=TIMEOUT, env=env, stdin=subprocess.DEVNULL,
                          check=False)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    return Dirs.under(tmp_path / "le")


def systemd_host(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "run/systemd/system").mkdir(parents=True)
    (root / "etc/cron.d").mkdir(parents=True)  # both present: systemd wins
    return root


def cron_host(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc/cron.d").mkdir(parents=True)
    return root


def unit(text: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = {}
        else:
            key, value = line.split("=", 1)
            sections[current][key] = value
    return sections


def test_systemd_host_gets_timer_and_service_where_systemd_reads_them(tmp_path, dirs):
    root = systemd_host(tmp_path)
    out = ok(schedule(root, dirs, "install"))
    unit_dir = root / "etc/systemd/system"
    service, timer = unit_dir / "certkernel.service", unit_dir / "certkernel.timer"
    assert f"Wrote {service}" in out and f"Wrote {timer}" in out
    assert not (root / "etc/cron.d/certkernel").exists()
    link = unit_dir / "timers.target.wants/certkernel.timer"
    assert os.readlink(link) == "../certkernel.timer"  # what `systemctl enable` makes
    t = unit(timer.read_text())["Timer"]
    assert t["OnCalendar"] == "*-*-* 00,12:00:00"
    assert t["Persistent"] == "true"
    assert int(t["RandomizedDelaySec"]) == 43200
    s = unit(service.read_text())["Service"]
    assert s["Type"] == "oneshot"
    assert s["ExecStart"] == (f"{CERTKERNEL} renew -q --config-dir {dirs.config} "
                              f"--work-dir {dirs.work} --logs-dir {dirs.logs}")
    assert s["NoNewPrivileges"] == "true" and s["PrivateTmp"] == "true"
    assert "ProtectSystem" not in s  # renew's plugins write server configs and web roots
    assert oct(timer.stat().st_mode & 0o777) == "0o644"
    # nothing ran systemctl against the real host
    assert "Not running `systemctl enable --now certkernel.timer`" in out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify_and_sit_on_its_unit_path(tmp_path, dirs):
    root = systemd_host(tmp_path)
    ok(schedule(root, dirs, "install", "systemd"))
    unit_dir = root / "etc/systemd/system"
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no",
                           str(unit_dir / "certkernel.service"), str(unit_dir / "certkernel.timer")],
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    # verify exits 0 on unknown keys, with a warning: demand a silent pass
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    paths = subprocess.run(["systemd-analyze", "unit-paths"], capture_output=True, text=True,
                           timeout=TIMEOUT, check=True).stdout.split()
    assert "/etc/systemd/system" in paths


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_verify_would_catch_a_broken_unit(tmp_path):
    """The verify check above can fail: a timer with a bad calendar is refused."""
    bad = tmp_path / "certkernel.timer"
    bad.write_text("[Timer]\nOnCalendar=twice-daily\n[Install]\nWantedBy=timers.target\n")
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(bad)],
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert proc.returncode != 0


def test_cron_host_gets_a_cron_file(tmp_path, dirs):
    root = cron_host(tmp_path)
    out = ok(schedule(root, dirs, "install"))
    cron = root / "etc/cron.d/certkernel"
    assert f"Wrote {cron}" in out
    assert not (root / "etc/systemd/system/certkernel.timer").exists()
    jobs = [line for line in cron.read_text().splitlines()
            if line and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(jobs) == 1
    minute, hours, dom, month, dow, user, *command = jobs[0].split()
    assert 0 <= int(minute) < 60
    first, second = (int(h) for h in hours.split(","))
    assert second == first + 12  # twice a day, twelve hours apart
    assert (dom, month, dow, user) == ("*", "*", "*", "root")
    assert command[:3] == [CERTKERNEL, "renew", "-q"]
    assert "%" not in jobs[0]  # cron would cut the command there


def test_status_and_remove(tmp_path, dirs):
    root = systemd_host(tmp_path)
    status = schedule(root, dirs, "status")
    assert status.returncode == 1 and "Renewal is not scheduled" in status.stdout
    ok(schedule(root, dirs, "install"))
    assert "systemd: " in ok(schedule(root, dirs, "status"))
    out = ok(schedule(root, dirs, "remove"))
    unit_dir = root / "etc/systemd/system"
    for name in ("certkernel.timer", "certkernel.service", "timers.target.wants/certkernel.timer"):
        assert f"Removed {unit_dir / name}" in out
        assert not os.path.lexists(unit_dir / name)
    assert "nothing removed" in ok(schedule(root, dirs, "remove"))


def test_switching_scheduler_removes_the_other(tmp_path, dirs):
    root = systemd_host(tmp_path)
    ok(schedule(root, dirs, "install", "cron"))
    assert (root / "etc/cron.d/certkernel").exists()
    out = ok(schedule(root, dirs, "install", "systemd"))
    assert f"Removed {root / 'etc/cron.d/certkernel'}" in out
    assert not (root / "etc/cron.d/certkernel").exists()


def test_certbot_timer_is_pointed_out(tmp_path, dirs):
    root = systemd_host(tmp_path)
    wants = root / "etc/systemd/system/timers.target.wants"
    wants.mkdir(parents=True)
    (wants / "certbot.timer").symlink_to("/lib/systemd/system/certbot.timer")
    out = ok(schedule(root, dirs, "install"))
    assert re.search(r"Certbot's renewal is scheduled too \(.*certbot\.timer\)", out)


def test_no_scheduler_says_what_to_run(tmp_path, dirs):
    root = tmp_path / "bare"
    root.mkdir()
    proc = schedule(root, dirs, "install")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert "neither systemd" in proc.stderr and f"{CERTKERNEL} renew -q" in proc.stderr
    assert list(root.rglob("*")) == []


def test_bad_action_is_one_usage_line(tmp_path, dirs):
    proc = schedule(cron_host(tmp_path), dirs, "enable")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "usage: certkernel schedule install|remove|status [systemd|cron]"


def test_certonly_says_how_renewal_is_scheduled(tmp_path, pebble):
    """After a certificate, as Certbot: scheduled, or how to schedule it."""
    root = systemd_host(tmp_path)
    dirs = Dirs.under(tmp_path / "le")

    def certonly(name: str) -> str:
        env = dict(os.environ, CERTKERNEL_SCHEDULE_ROOT=str(root))
        env.pop("REQUESTS_CA_BUNDLE", None)
        proc = subprocess.run(
            [CERTKERNEL, "certonly", "--standalone", "-d", name, "-n", "--agree-tos",
             "--register-unsafely-without-email", "--server", pebble.directory_url,
             "--ca-bundle", pebble.ca_bundle, "--http-01-port", str(pebble.http01_port),
             "--http-01-address", "127.0.0.1", *dirs.args()],
            capture_output=True, text=True, timeout=180, env=env, stdin=subprocess.DEVNULL,
            check=False)
        return ok(proc)

    before = certonly("sched-a.example")
    assert "run `certkernel schedule install`" in before
    assert "has set up a scheduled task" not in before
    ok(schedule(root, dirs, "install"))
    after = certonly("sched-b.example")
    assert ("certkernel has set up a scheduled task to automatically renew this certificate "
            "in the background.") in after


HARDEN = r"""
set -e
# ProtectKernelTunables: /proc/sys and /sys read-only; ProtectKernelLogs: no kernel log
for dir in /proc/sys /sys; do mount --bind "$dir" "$dir"; mount -o remount,bind,ro "$dir"; done
mount --bind /dev/null /dev/kmsg 2>/dev/null || true
# NoNewPrivileges
exec setpriv --no-new-privs "$@"
"""


@pytest.mark.skipif(not (shutil.which("unshare") and shutil.which("setpriv")),
                    reason="unshare/setpriv (util-linux) not installed")
def test_renew_works_under_the_service_hardening(tmp_path, pebble):
    """What certkernel.service restricts (no new privileges, read-only kernel tunables)
    does not stop a real renewal: standalone binds its port, files are written, the
    plugin process runs.  PrivateTmp is left out: the test's folders live in /tmp."""
    dirs = Dirs.under(tmp_path / "le")
    base = [*dirs.args(), "-n", "--server", pebble.directory_url, "--ca-bundle",
            pebble.ca_bundle, "--http-01-port", str(pebble.http01_port),
            "--http-01-address", "127.0.0.1"]
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    ok(subprocess.run([CERTKERNEL, "certonly", "--standalone", "-d", "hardened.example",
                       "--agree-tos", "--register-unsafely-without-email", *base],
                      capture_output=True, text=True, timeout=180, env=env, check=False))
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespaces here: {probe.stderr.strip()}")
    before = (dirs.config / "live/hardened.example/cert.pem").read_bytes()
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", HARDEN, "sh",
         CERTKERNEL, "renew", "-q", "--force-renewal", "--no-random-sleep-on-renew", *base],
        capture_output=True, text=True, timeout=240, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (dirs.config / "live/hardened.example/cert.pem").read_bytes() != before
    # the restrictions were really in force inside (read, never written)
    check = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", HARDEN, "sh", "sh", "-c",
         "grep '^NoNewPrivs:' /proc/self/status; grep ' /proc/sys ' /proc/self/mountinfo"],
        capture_output=True, text=True, timeout=30, check=False)
    assert check.returncode == 0, check.stderr
    lines = check.stdout.splitlines()
    assert lines[0].split() == ["NoNewPrivs:", "1"]
    # mountinfo field 6 holds the mount's options: /proc/sys is mounted read-only
    assert [line.split()[5].split(",")[0] for line in lines[1:]][-1:] == ["ro"], check.stdout
