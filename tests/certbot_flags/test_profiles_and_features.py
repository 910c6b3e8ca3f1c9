"""ACME profiles, IP identifiers, reconfigure, EAB algorithm and short-lived certificates.

Against a real acme2certifier (tests/infra/a2c.py) whose directory offers
the profiles "classic" (30-day certificates) and "shortlived" (6-day), and
renewal information (ARI). It does not validate challenges, so the manual
plugin with a no-op hook stands in for the authenticator.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from certkernel import crypto
from certkernel.lineages import renewal_conf
from tests.infra.a2c import A2C, A2CSettings, ensure_installed

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DAY = 86400.0


class Host:
    """One machine's certkernel directories, run through the CLI (optionally at a later time)."""

    def __init__(self, base: Path, server: A2C) -> None:
        self.base = base
        self.server = server

    @property
    def config_dir(self) -> Path:
        return self.base / "etc"

    def run(self, *args: str, later: float = 0.0) -> subprocess.CompletedProcess[str]:
        head = [sys.executable, str(HERE / "shifted_clock.py"), str(later)] if later else \
            [sys.executable, "-m", "certkernel"]
        argv = [*head, *args, "--config-dir", str(self.config_dir),
                "--work-dir", str(self.base / "work"), "--logs-dir", str(self.base / "logs"),
                "-n"]
        env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO,
                              timeout=180, stdin=subprocess.DEVNULL)

    def certonly(self, *extra: str, names: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        domains = [a for n in names for a in ("-d", n)]
        return self.run("certonly", "--manual", "--manual-auth-hook", "true",
                        "--preferred-challenges", "http", *domains,
                        "--server", self.server.directory_url, "--agree-tos",
                        "-m", "ops@example.org", *extra)

    def conf(self, name: str) -> dict[str, Any]:
        path = self.config_dir / "renewal" / f"{name}.conf"
        return renewal_conf.read(str(path)).params.as_dict()

    def lifetime(self, name: str) -> datetime.timedelta:
        info = crypto.cert_info((self.config_dir / "live" / name / "cert.pem").read_bytes())
        return info.not_after - info.not_before

    def cert(self, name: str) -> bytes:
        return (self.config_dir / "live" / name / "cert.pem").read_bytes()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _orders(server: A2C, since: int) -> list[dict[str, object]]:
    return server.new_orders(since)


def _days(delta: datetime.timedelta) -> float:
    return delta.total_seconds() / DAY


def test_preferred_profile_is_used_and_saved(tmp_path: Path, a2c_profiles: A2C) -> None:
    host = Host(tmp_path, a2c_profiles)
    mark = a2c_profiles.mark()
    ok(host.certonly("--preferred-profile", "shortlived", names=("short.example.org",)))
    assert [o.get("profile") for o in _orders(a2c_profiles, mark)] == ["shortlived"]
    assert 5.5 < _days(host.lifetime("short.example.org")) <= 6.01
    assert host.conf("short.example.org")["preferred_profile"] == "shortlived"


def test_preferred_profile_falls_back_when_not_offered(tmp_path: Path, a2c_profiles: A2C) -> None:
    host = Host(tmp_path, a2c_profiles)
    mark = a2c_profiles.mark()
    ok(host.certonly("--preferred-profile", "retired", names=("fallback.example.org",)))
    orders = _orders(a2c_profiles, mark)
    assert len(orders) == 1
    assert "profile" not in orders[0]  # the CA's default, not a profile it does not know
    assert _days(host.lifetime("fallback.example.org")) > 29
    assert host.conf("fallback.example.org")["preferred_profile"] == "retired"


def test_required_profile(tmp_path: Path, a2c_profiles: A2C) -> None:
    host = Host(tmp_path, a2c_profiles)
    mark = a2c_profiles.mark()
    result = host.certonly("--required-profile", "retired", names=("req.example.org",))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"--required-profile retired: the CA at {a2c_profiles.directory_url} does not offer "
        "this profile (it offers classic, shortlived). Choose one it offers, or use "
        "--preferred-profile to fall back to the CA's default.")
    assert _orders(a2c_profiles, mark) == []
    assert not (host.config_dir / "live" / "req.example.org").exists()
    ok(host.certonly("--required-profile", "shortlived", names=("req.example.org",)))
    assert [o.get("profile") for o in _orders(a2c_profiles, mark)] == ["shortlived"]
    assert host.conf("req.example.org")["required_profile"] == "shortlived"
    # renew honours the saved profile
    mark = a2c_profiles.mark()
    ok(host.run("renew", "--force-renewal", "--no-random-sleep-on-renew"))
    assert [o.get("profile") for o in _orders(a2c_profiles, mark)] == ["shortlived"]


def test_required_profile_on_a_ca_without_profiles(tmp_path: Path, a2c_plain: A2C) -> None:
    host = Host(tmp_path, a2c_plain)
    result = host.certonly("--required-profile", "shortlived", names=("none.example.org",))
    assert result.returncode == 1
    assert "its directory lists no profiles" in result.stderr
    assert a2c_plain.new_orders() == []


def test_migrated_conf_profile_is_honoured(tmp_path: Path, a2c_profiles: A2C) -> None:
    """A renewal conf Certbot 4.x wrote with ``preferred_profile`` keeps its profile."""
    host = Host(tmp_path, a2c_profiles)
    ok(host.certonly(names=("migrated.example.org",)))
    assert _days(host.lifetime("migrated.example.org")) > 29
    conf = host.config_dir / "renewal" / "migrated.example.org.conf"
    text = conf.read_text()
    assert "preferred_profile" not in host.conf("migrated.example.org")
    conf.write_text(text.replace("[renewalparams]\n",
                                 "[renewalparams]\npreferred_profile = shortlived\n"))
    mark = a2c_profiles.mark()
    ok(host.run("renew", "--force-renewal", "--no-random-sleep-on-renew"))
    assert [o.get("profile") for o in _orders(a2c_profiles, mark)] == ["shortlived"]
    assert _days(host.lifetime("migrated.example.org")) <= 6.01
    assert host.conf("migrated.example.org")["preferred_profile"] == "shortlived"


def test_ip_address_identifiers_and_listing(tmp_path: Path, a2c_profiles: A2C) -> None:
    host = Host(tmp_path, a2c_profiles)
    mark = a2c_profiles.mark()
    ok(host.certonly("--ip-address", "127.0.0.9", "--ip-address", "::0:1",
                     names=("ip.example.org",)))
    orders = _orders(a2c_profiles, mark)
    assert orders[0]["identifiers"] == [
        {"type": "dns", "value": "ip.example.org"}, {"type": "ip", "value": "127.0.0.9"},
        {"type": "ip", "value": "::1"}]
    info = crypto.cert_info(host.cert("ip.example.org"))
    assert info.names == ["ip.example.org", "127.0.0.9", "::1"]
    listing = ok(host.run("certificates"))
    assert "    Identifiers: ip.example.org 127.0.0.9 ::1\n" in listing
    assert "Domains:" not in listing


def _write_hook(folder: Path, name: str) -> tuple[str, Path]:
    out = folder / f"{name}.out"
    script = folder / f"{name}.sh"
    script.write_text(f'#!/bin/sh\necho "$RENEWED_LINEAGE" >> {out}\n')
    script.chmod(0o755)
    return str(script), out


def test_reconfigure_saves_only_after_a_good_dry_run(tmp_path: Path, a2c_profiles: A2C) -> None:
    host = Host(tmp_path, a2c_profiles)
    name = "reconf.example.org"
    ok(host.certonly(names=(name,)))
    cert = host.cert(name)
    before = host.conf(name)
    hook, hook_out = _write_hook(tmp_path, "deploy")

    # A bad setting: a profile this CA does not offer fails the dry run, and
    # the conf is left as it was.
    bad = host.run("reconfigure", "--cert-name", name, "--required-profile", "no-such-profile")
    assert bad.returncode == 1
    assert f"The dry run with the new settings failed, so the renewal configuration of {name} " \
           "was not changed" in bad.stderr
    assert host.conf(name) == before

    mark = a2c_profiles.mark()
    out = ok(host.run("reconfigure", "--cert-name", name, "--preferred-profile", "shortlived",
                      "--deploy-hook", hook, "--run-deploy-hooks"))
    assert "Successfully updated configuration." in out
    after = host.conf(name)
    assert after["preferred_profile"] == "shortlived"
    assert after["renew_hook"] == hook
    assert {k: v for k, v in after.items() if k not in ("preferred_profile", "renew_hook")} \
        == before
    assert host.cert(name) == cert  # the dry run saved nothing
    assert [o.get("profile") for o in _orders(a2c_profiles, mark)] == ["shortlived"]
    assert hook_out.read_text() == f"{host.config_dir / 'live' / name}\n"

    again = ok(host.run("reconfigure", "--cert-name", name))
    assert "No changes were made to the renewal configuration." in again
    ok(host.run("renew", "--force-renewal", "--no-random-sleep-on-renew"))
    assert _days(host.lifetime(name)) <= 6.01

    refused = host.run("reconfigure", "--cert-name", name, "-d", "other.example.org")
    assert refused.returncode == 1
    assert "reconfigure cannot change the names" in refused.stderr
    server = host.run("reconfigure", "--cert-name", name, "--server", "http://127.0.0.1:9/dir")
    assert server.returncode == 1
    assert "change the ACME account or server is not supported" in server.stderr
    missing = host.run("reconfigure", "--cert-name", "nope.example.org")
    assert "An existing certificate with name nope.example.org could not be found" \
        in missing.stderr


def test_eab_hmac_algorithm_is_used(tmp_path: Path, a2c_profiles: A2C) -> None:
    host = Host(tmp_path, a2c_profiles)
    key = base64.urlsafe_b64encode(b"k" * 48).decode().rstrip("=")
    mark = a2c_profiles.mark()
    host.run("register", "--server", a2c_profiles.directory_url, "--agree-tos",
             "-m", "eab@example.org", "--eab-kid", "kid-1", "--eab-hmac-key", key,
             "--eab-hmac-alg", "hs384")
    accounts = [r["payload"] for r in a2c_profiles.requests_since(mark)
                if isinstance(r.get("payload"), dict)
                and "externalAccountBinding" in r["payload"]]
    assert len(accounts) == 1
    protected = accounts[0]["externalAccountBinding"]["protected"]
    header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
    assert header["alg"] == "HS384"
    assert header["kid"] == "kid-1"
    bad = host.run("register", "--eab-hmac-alg", "md5")
    assert bad.returncode == 2
    assert "invalid choice: 'md5'" in bad.stderr


def test_short_lived_certificate_renews_by_ari(tmp_path: Path, a2c_profiles: A2C) -> None:
    """A 6-day certificate is not due at once (Certbot 1.x's 30-day default would say so):
    the CA's window (85 % of the life) decides."""
    host = Host(tmp_path, a2c_profiles)
    name = "ari6.example.org"
    ok(host.certonly("--preferred-profile", "shortlived", names=(name,)))
    first = host.cert(name)
    out = ok(host.run("renew", "--no-random-sleep-on-renew"))
    assert "not due for renewal" in out
    # Half-way: the half-life rule would renew, but the CA's window has not begun.
    out = ok(host.run("renew", "--no-random-sleep-on-renew", later=3.5 * DAY))
    assert host.cert(name) == first, out
    out = ok(host.run("renew", "--no-random-sleep-on-renew", later=5.4 * DAY))
    assert host.cert(name) != first, out
    assert "Congratulations, all renewals succeeded" in out


def test_short_lived_certificate_renews_at_half_life_without_ari(tmp_path: Path) -> None:
    server = A2C(tmp_path / "ca", ensure_installed(),
                 A2CSettings(profiles={"shortlived": 6}, ari=False))
    server.start()
    try:
        host = Host(tmp_path / "host", server)
        name = "half.example.org"
        ok(host.certonly(names=(name,)))
        first = host.cert(name)
        assert 5.5 < _days(host.lifetime(name)) <= 6.01
        ok(host.run("renew", "--no-random-sleep-on-renew", later=2.5 * DAY))
        assert host.cert(name) == first
        out = ok(host.run("renew", "--no-random-sleep-on-renew", later=3.2 * DAY))
        assert host.cert(name) != first, out
    finally:
        server.stop()
