"""The JavaScript example plugin, installed from its folder, used through the CLI.

The plugin directory is named by CERTKERNEL_PLUGIN_PATH, the way an operator
drops a plugin folder into a plugin directory; the kernel finds it by its
manifest, starts `node`, and gets a certificate from Pebble through it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.infra.httpd import static_site

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    env["CERTKERNEL_PLUGIN_PATH"] = str(EXAMPLES)
    return env


def _ck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "certkernel", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=_env())


@pytest.fixture
def webroot(pebble, tmp_path) -> Iterator[Path]:
    """A real web server on Pebble's http-01 port, serving the webroot."""
    with static_site(tmp_path / "www", pebble.http01_port) as root:
        yield root


def test_node_is_available():
    assert shutil.which("node"), "Node.js is needed for the JavaScript plugin"
    assert (REPO / "sdk" / "node" / "node_modules" / "@msgpack" / "msgpack").is_dir(), \
        "run scripts/setup.sh (npm ci in sdk/node)"


def test_certkernel_plugins_lists_the_dropped_in_plugin(tmp_path):
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"),
            "--logs-dir", str(tmp_path / "l")]
    result = _ck("plugins", "--authenticators", *dirs)
    assert result.returncode == 0, result.stderr
    assert "* js-webroot" in result.stdout
    assert "JavaScript example" in result.stdout


def test_certificate_obtained_through_the_javascript_plugin(pebble, tmp_path, webroot):
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"),
            "--logs-dir", str(tmp_path / "l")]
    result = _ck("certonly", "-a", "js-webroot", "--js-webroot-path", str(webroot),
                 "-d", "js.example.com", "-d", "www.js.example.com",
                 "--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle,
                 "--agree-tos", "--register-unsafely-without-email", "-n", *dirs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully received certificate." in result.stdout
    live = tmp_path / "c" / "live" / "js.example.com"
    cert = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    key = serialization.load_pem_private_key((live / "privkey.pem").read_bytes(), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == ["js.example.com", "www.js.example.com"]
    # The plugin's cleanup removed everything it created in the webroot.
    assert os.listdir(webroot) == []
    conf = (tmp_path / "c" / "renewal" / "js.example.com.conf").read_text()
    assert "authenticator = js-webroot" in conf
    assert f"js_webroot_path = {webroot}" in conf
