"""--debug-challenges pauses before the CA validates; --break-my-certs guards real certs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from certkernel import errors
from certkernel.config import Config
from certkernel.lineages.lineage_choice import refuse_test_cert_over_valid
from certkernel.lineages.storage import Lineage
from tests.infra.cli_run import Dirs, auth_args, ck, failed, obtain, ok
from tests.infra.pebble import Pebble


def test_debug_challenges_waits_for_the_user_before_the_ca_validates(
        dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    argv = [sys.executable, "-m", "certkernel", "certonly", *auth_args(hook),
            "-d", "debug.example.org", "--debug-challenges", "--agree-tos",
            "--register-unsafely-without-email", "--force-interactive",
            "--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle, *dirs.args()]
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        live = dirs.config / "live" / "debug.example.org"
        deadline = time.monotonic() + 20
        # The run reaches the pause and stays there: no certificate while nobody answers.
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if (dirs.work / "plugins" / "manual").exists():
                break
        time.sleep(1.5)
        assert proc.poll() is None, "the run must wait for Enter"
        assert not live.exists()
        out, err = proc.communicate("\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out + err
    assert "Challenges loaded. Press continue to submit to CA." in out
    assert "_acme-challenge.debug.example.org. TXT" in out
    assert (live / "fullchain.pem").exists()


def test_staging_does_not_replace_a_real_certificate_without_break_my_certs(
        dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "real.example.org"))
    before = sorted(os.listdir(dirs.config / "archive" / "real.example.org"))
    # --staging means Let's Encrypt's staging CA; the guard stops before any request.
    result = ck(dirs, "certonly", *auth_args(hook), "-d", "real.example.org",
                "--force-renewal", "--staging", "--agree-tos", "-m", "a@example.org")
    error = failed(result)
    assert "seemingly valid certificate with a test certificate" in error
    assert "--break-my-certs" in error
    assert sorted(os.listdir(dirs.config / "archive" / "real.example.org")) == before


def test_break_my_certs_and_dry_run_pass_the_guard(
        dirs: Dirs, pebble: Pebble, hook: Path) -> None:
    ok(obtain(dirs, pebble, hook, "guard.example.org"))
    lineage = Lineage.load(str(dirs.config), "guard.example.org")
    staging = Config(verb="certonly", staging=True, config_dir=str(dirs.config))
    try:
        refuse_test_cert_over_valid(staging, lineage)
    except errors.ConfigurationError as exc:
        assert "--break-my-certs" in str(exc)
    else:
        raise AssertionError("the guard must refuse without --break-my-certs")
    refuse_test_cert_over_valid(Config(verb="certonly", staging=True, break_my_certs=True,
                                       config_dir=str(dirs.config)), lineage)
    refuse_test_cert_over_valid(Config(verb="certonly", staging=True, dry_run=True,
                                       config_dir=str(dirs.config)), lineage)
