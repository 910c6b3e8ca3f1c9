"""Issue 14, gaps 4-6, with a third-party plugin written from PROTOCOL.md alone.

flatconf declares ``[needs] checkpoint_roots`` (gap 5), makes a temporary
config change for the challenge that it never reverts and never calls
``checkpoint/finalize`` (gap 4: the kernel owns both), and supports no
enhancements (gap 6: the default redirect is skipped with a note, an
explicit ``--redirect`` fails before the CA is asked for anything).
"""

from __future__ import annotations

import os

from .conftest import ORIGINAL, Flat

RUN = ("run", "-a", "flatconf", "-i", "flatconf", "-d", "flat.example")


def _checkpoints(flat: Flat) -> dict[str, list[str]]:
    work = flat.work_dir
    backups = work / "backups"
    return {
        "temporary": sorted(os.listdir(work / "temp_checkpoint"))
        if (work / "temp_checkpoint").exists() else [],
        "in_progress": sorted(os.listdir(work / "IN_PROGRESS"))
        if (work / "IN_PROGRESS").exists() else [],
        "finalized": sorted(os.listdir(backups)) if backups.exists() else [],
    }


def test_run_installs_without_redirect_and_leaves_only_its_finalized_checkpoint(
        flat: Flat) -> None:
    done = flat.cli(*RUN)
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    # Gap 6: redirect is on by default only where the installer supports it.
    assert "Note: the flatconf installer supports no redirect enhancement, so none was set " \
           "up (--redirect is on by default only where the installer supports it)." in output
    assert "cannot do --redirect" not in output
    live = flat.config_dir / "live" / "flat.example"
    # Gap 4: the challenge line and file the plugin never reverted are gone; the
    # deployment is there, in one checkpoint the kernel finalized with the title.
    assert flat.conf.read_bytes() == ORIGINAL + (
        f"ssl_certificate {live}/fullchain.pem; # flat.example\n"
        f"ssl_certificate_key {live}/privkey.pem; # flat.example\n").encode()
    assert not (flat.conf_dir / "challenge.conf").exists()
    state = _checkpoints(flat)
    assert state["temporary"] == [] and state["in_progress"] == []
    assert len(state["finalized"]) == 1
    title = (flat.work_dir / "backups" / state["finalized"][0] / "CHANGES_SINCE").read_text()
    assert title == "-- Deployed certificate for flat.example --\n"
    # The roots flatconf declared were recorded with that checkpoint (gap 5).
    roots = (flat.work_dir / "backups" / state["finalized"][0] / "ROOTS").read_text()
    assert roots.split() == [os.path.realpath(flat.conf_dir)]

    # A later rollback, with no plugin flags, finds no "interrupted run" and
    # puts server.conf back byte for byte.
    back = flat.cli("rollback", "--checkpoints", "1", plugin_flags=False)
    assert back.returncode == 0, back.stdout + back.stderr
    assert "interrupted run" not in back.stdout + back.stderr
    assert "Rolled back 1 checkpoint(s)" in back.stdout + back.stderr
    # The installer recorded with the checkpoint is restarted, no flags needed (gap 7).
    assert "Restarted the flatconf server with the restored configuration." in back.stdout
    assert flat.conf.read_bytes() == ORIGINAL
    assert _checkpoints(flat) == {"temporary": [], "in_progress": [], "finalized": []}


def test_explicit_redirect_fails_before_a_certificate_is_obtained(flat: Flat) -> None:
    done = flat.cli(*RUN, "--redirect")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "The flatconf installer cannot do --redirect; run again without it" in done.stderr
    # Before the CA was asked for anything: no account, no certificate.
    assert "Account registered" not in done.stderr
    assert not (flat.config_dir / "accounts").exists()
    assert not (flat.config_dir / "live" / "flat.example").exists()
    assert not (flat.config_dir / "archive").exists()
    # No challenge was published and nothing was changed.
    assert not (flat.webroot / ".well-known").exists()
    assert flat.conf.read_bytes() == ORIGINAL
    assert _checkpoints(flat) == {"temporary": [], "in_progress": [], "finalized": []}


def test_certonly_leaves_no_temporary_checkpoint_the_plugin_forgot(flat: Flat) -> None:
    """The kernel reverts after cleanup what the plugin left, before anything else runs."""
    done = flat.cli("certonly", "-a", "flatconf", "-d", "flat.example")
    assert done.returncode == 0, done.stdout + done.stderr
    assert flat.conf.read_bytes() == ORIGINAL
    assert not (flat.conf_dir / "challenge.conf").exists()
    assert _checkpoints(flat) == {"temporary": [], "in_progress": [], "finalized": []}
    back = flat.cli("rollback", "--checkpoints", "1", plugin_flags=False)
    assert back.returncode == 0, back.stdout + back.stderr
    assert "interrupted run" not in back.stdout + back.stderr
    assert "there is no checkpoint to roll back" in back.stdout + back.stderr


def test_install_skips_the_default_redirect_and_refuses_an_explicit_one(flat: Flat) -> None:
    got = flat.cli("certonly", "-a", "flatconf", "-d", "flat.example")
    assert got.returncode == 0, got.stdout + got.stderr
    # Explicit --redirect: refused before anything is deployed.
    refused = flat.cli("install", "-i", "flatconf", "--cert-name", "flat.example", "--redirect")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "The flatconf installer cannot do --redirect; run again without it" in refused.stderr
    assert flat.conf.read_bytes() == ORIGINAL
    assert _checkpoints(flat) == {"temporary": [], "in_progress": [], "finalized": []}
    # Redirect by default: skipped with the note, the certificate installed.
    done = flat.cli("install", "-i", "flatconf", "--cert-name", "flat.example")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Note: the flatconf installer supports no redirect enhancement" in done.stdout
    assert b"ssl_certificate " in flat.conf.read_bytes()
    assert len(_checkpoints(flat)["finalized"]) == 1
