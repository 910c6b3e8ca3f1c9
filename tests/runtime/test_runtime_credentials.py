"""Credential files as the kernel reads them for a plugin."""

from __future__ import annotations

import logging
import os

import pytest

from certkernel import errors
from certkernel.runtime.plugin_secrets import is_secret_key, read_credentials


def _write(path, text: str, mode: int = 0o600):  # type: ignore[no-untyped-def]
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def test_values_quotes_comments_and_blank_lines(tmp_path):
    path = _write(tmp_path / "rfc2136.ini",
                  "# BIND\n\ndns_rfc2136_server = 127.0.0.1\ndns_rfc2136_name = 'acme-key.'\n"
                  'dns_rfc2136_secret = "c2VjcmV0"\n')
    assert read_credentials(path, "--dns-rfc2136-credentials") == {
        "dns_rfc2136_server": "127.0.0.1",
        "dns_rfc2136_name": "acme-key.",
        "dns_rfc2136_secret": "c2VjcmV0",
    }


def test_missing_file_names_the_flag(tmp_path):
    with pytest.raises(errors.ConfigurationError, match="--dns-x-credentials: credentials file .* does not exist"):
        read_credentials(str(tmp_path / "nope.ini"), "--dns-x-credentials")


def test_line_without_equals_names_the_line(tmp_path):
    path = _write(tmp_path / "bad.ini", "a = 1\nthis is not a setting\n")
    with pytest.raises(errors.ConfigurationError, match="line 2 is not 'key = value'"):
        read_credentials(path, "--dns-x-credentials")


def test_world_readable_file_warns(tmp_path, caplog):
    path = _write(tmp_path / "open.ini", "dns_x_token = abcdef\n", 0o644)
    with caplog.at_level(logging.WARNING):
        assert read_credentials(path, "--dns-x-credentials") == {"dns_x_token": "abcdef"}
    assert "Unsafe permissions" in caplog.text and "chmod 600" in caplog.text


@pytest.mark.parametrize(("key", "secret"), [
    ("dns_rfc2136_secret", True),
    ("dns_rfc2136_name", False),
    ("dns_rfc2136_server", False),
    ("dns_rfc2136_port", False),
    ("dns_rfc2136_algorithm", False),
    ("dns_cloudflare_api_token", True),
    ("dns_cloudflare_api_key", True),
    ("dns_cloudflare_email", False),
    ("dns_ovh_application_secret", True),
    ("dns_ovh_consumer_key", True),
    ("dns_ovh_endpoint", False),
    ("dns_sakuracloud_api_url", False),
])
def test_only_secret_values_are_redacted(key, secret):
    assert is_secret_key(key) is secret
