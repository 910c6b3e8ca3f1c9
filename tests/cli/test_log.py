"""The log file: rotation, modes, levels, and secrets that never reach it."""

from __future__ import annotations

import io
import logging
import os
import stat
from pathlib import Path

import pytest

from certkernel.config import Config
from certkernel.log import SecretFilter, register_secret, setup_logging

KEY = ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAbcdefSECRETKEYMATERIAL0123456789\n"
       "-----END EC PRIVATE KEY-----")


def logs(tmp_path: Path) -> list[str]:
    return sorted(os.listdir(tmp_path / "logs"))


def one_run(tmp_path: Path, message: str, backups: int = 1000, **kw: object) -> str:
    config = Config(logs_dir=str(tmp_path / "logs"), max_log_backups=backups, **kw)  # type: ignore[arg-type]
    stream = io.StringIO()
    setup = setup_logging(config, stream=stream)
    try:
        logging.getLogger("certkernel.test").info(message)
        logging.getLogger("certkernel.test").debug("debug: %s", message)
    finally:
        setup.close()
    return stream.getvalue()


def test_rotation_keeps_n_backups_and_file_is_private(tmp_path: Path) -> None:
    for n in range(4):
        one_run(tmp_path, f"run {n}", backups=2)
    assert logs(tmp_path) == ["letsencrypt.log", "letsencrypt.log.1", "letsencrypt.log.2"]
    current = tmp_path / "logs" / "letsencrypt.log"
    assert "run 3" in current.read_text() and "run 2" not in current.read_text()
    assert "run 2" in (tmp_path / "logs" / "letsencrypt.log.1").read_text()
    assert stat.S_IMODE(current.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700


def test_zero_backups_appends_to_one_file(tmp_path: Path) -> None:
    for n in range(3):
        one_run(tmp_path, f"run {n}", backups=0)
    assert logs(tmp_path) == ["letsencrypt.log"]
    text = (tmp_path / "logs" / "letsencrypt.log").read_text()
    assert all(f"run {n}" in text for n in range(3))


def test_levels(tmp_path: Path) -> None:
    assert one_run(tmp_path, "hello") == "hello\n"
    assert "debug: hello" in one_run(tmp_path, "hello", verbose_count=1)
    assert one_run(tmp_path, "hello", quiet=True) == ""
    # the file always has DEBUG
    assert "debug: hello" in (tmp_path / "logs" / "letsencrypt.log").read_text()


def test_secrets_are_redacted_everywhere(tmp_path: Path) -> None:
    config = Config(logs_dir=str(tmp_path / "logs"), eab_hmac_key="HMACsecretVALUE42")
    stream = io.StringIO()
    setup = setup_logging(config, stream=stream)
    log = logging.getLogger("some.library")
    try:
        register_secret("dns-api-token-XYZ")
        log.info("key is %s", KEY)
        log.info("eab %s and token dns-api-token-XYZ", config.eab_hmac_key)
        try:
            raise ValueError(f"bad token dns-api-token-XYZ near {KEY}")
        except ValueError:
            log.exception("failed")
    finally:
        setup.close()
    text = (tmp_path / "logs" / "letsencrypt.log").read_text() + stream.getvalue()
    for secret in ("SECRETKEYMATERIAL", "HMACsecretVALUE42", "dns-api-token-XYZ"):
        assert secret not in text
    assert "key is -----BEGIN PRIVATE KEY----- ***" in text
    assert "ValueError: bad token *** near" in text


def test_filter_keeps_short_values_and_truncated_pem() -> None:
    flt = SecretFilter()
    flt.add("ab")  # too short to redact safely
    assert flt.redact("about abc") == "about abc"
    assert "TRUNCATED" not in flt.redact("x -----BEGIN PRIVATE KEY-----\nTRUNCATED")


def test_unwritable_logs_dir_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    from certkernel.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="--logs-dir"):
        setup_logging(Config(logs_dir=str(blocker / "logs")))
