"""Certbot's command-line grammar, through the real CLI (no CA needed).

Each case is what a Certbot user types; the assertion is what they see.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.infra.cli_run import Dirs, ck


def _usage_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_auth_is_certonly(dirs: Dirs) -> None:
    # "auth" reaches certonly: the certonly-only check on --csr passes and the
    # run stops at the CSR file, not at the subcommand.
    result = ck(dirs, "auth", "--csr", str(dirs.work / "missing.csr"))
    assert result.returncode == 1, result.stderr
    assert "--csr: cannot read" in result.stderr
    run = ck(dirs, "run", "--csr", str(dirs.work / "missing.csr"))
    assert "only works with the certonly subcommand" in run.stderr


def test_unambiguous_prefix_is_the_full_option(dirs: Dirs) -> None:
    # --preferred-challenge (no s) takes its value, as argparse's abbreviations do
    help_text = ck(dirs, "--preferred-challenge", "http", "--help", "certonly")
    assert help_text.returncode == 0, help_text.stderr
    result = ck(dirs, "certonly", "--preferred-challenge", "bogus", "-d", "a.example.org")
    assert result.returncode == 1
    assert "--preferred-challenges: unknown challenge type 'bogus'" in result.stderr
    with_eq = ck(dirs, "certonly", "--preferred-challenge=bogus", "-d", "a.example.org")
    assert "--preferred-challenges: unknown challenge type 'bogus'" in with_eq.stderr


def test_ambiguous_prefix_lists_the_candidates(dirs: Dirs) -> None:
    err = _usage_error(ck(dirs, "certonly", "--pre", "x"))
    assert "ambiguous option: --pre could match" in err
    for candidate in ("--pre-hook", "--preferred-chain", "--preferred-challenges", "--prepare"):
        assert candidate in err


def test_unknown_flag_is_named_not_its_value(dirs: Dirs) -> None:
    err = _usage_error(ck(dirs, "certonly", "--domian", "x.example.org"))
    assert "unrecognized arguments: --domian" in err
    assert "did you mean --domain" in err
    assert "stray argument" not in err


def test_reason_is_case_insensitive(dirs: Dirs) -> None:
    # Parsing accepts Certbot's camelCase spelling; the run then stops at the
    # missing certificate, not at the reason.
    result = ck(dirs, "revoke", "--reason", "cessationOfOperation",
                "--cert-path", str(dirs.work / "none.pem"))
    assert result.returncode == 1, result.stderr
    assert "cannot read" in result.stderr
    assert "invalid choice" not in result.stderr
    bad = _usage_error(ck(dirs, "revoke", "--reason", "becauseISaidSo"))
    assert "invalid choice: 'becauseISaidSo'" in bad


def test_renewal_hook_dirs_exist_after_any_command(dirs: Dirs) -> None:
    result = ck(dirs, "certificates")
    assert result.returncode == 0, result.stderr
    for kind in ("pre", "deploy", "post"):
        folder = dirs.config / "renewal-hooks" / kind
        assert folder.is_dir()
        assert stat.S_IMODE(folder.stat().st_mode) & 0o022 == 0  # 0755 less the umask


def test_subcommand_help_is_that_subcommands_help(dirs: Dirs) -> None:
    for argv in (["certonly", "--help"], ["--help", "certonly"], ["auth", "-h"]):
        result = ck(dirs, *argv)
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert out.startswith("usage:\n  certkernel certonly [options] [-d DOMAIN]"), out[:200]
        assert "obtains a TLS/SSL certificate without installing it" in out
        for flag in ("--domains DOMAIN", "--cert-name", "--csr CSR", "--preferred-profile",
                     "--required-profile", "--issuance-timeout", "--ip-address"):
            assert flag in out, flag
        assert "manage your account:" not in out  # the generic overview is not printed
    generic = ck(dirs, "--help")
    assert "manage your account:" in generic.stdout


def test_plugin_check_and_reconfigure_have_help_topics(dirs: Dirs) -> None:
    check = ck(dirs, "--help", "plugin-check")
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("usage:\n  certkernel plugin-check NAME|PATH")
    assert "conformance checks" in check.stdout
    reconf = ck(dirs, "reconfigure", "--help")
    assert reconf.returncode == 0, reconf.stderr
    assert reconf.stdout.startswith("usage:\n  certkernel reconfigure --cert-name CERTNAME")
    assert "--run-deploy-hooks" in reconf.stdout
    bad = ck(dirs, "--help", "no-such-topic")
    assert bad.returncode == 1
    assert "no help topic 'no-such-topic'" in bad.stderr


def test_ip_address_flag_is_checked(dirs: Dirs) -> None:
    for bad in ("fe80::1%eth0", "10.0.0.0/8", "not-an-ip"):
        result = ck(dirs, "certonly", "--ip-address", bad)
        assert result.returncode == 1, result.stderr
        assert f"--ip-address: {bad!r}" in result.stderr
        assert not (dirs.config / "live").exists()


def test_help_stays_lazy() -> None:
    code = ("import sys, certkernel.main as m; m.main(['certonly', '--help']); "
            "bad = [n for n in ('acme', 'josepy', 'cryptography', 'requests', 'configobj') "
            "if n in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={k: v for k, v in os.environ.items()},
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
