"""plugin.toml parsing: typed options, Certbot-compatible flags/dests, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from certkernel.errors import ConfigurationError
from certkernel.plugin_host.manifest import load_manifest
from certkernel.plugin_host.manifest_values import convert_value

GOOD = """
name = "dns-example"
description = "Example DNS"
version = "1.2.3"
roles = ["authenticator"]
challenges = ["dns-01"]
command = ["{python}", "{dir}/run.py", "--flag"]
protocol_versions = [1]
env = ["HTTPS_PROXY"]

[[options]]
name = "credentials"
type = "secret-file"
help = "credentials INI file"

[[options]]
name = "propagation-seconds"
type = "int"
default = 60

[[options]]
name = "zones"
type = "list"
default = ["a.test"]

[needs]
http01_sockets = false

[timeouts]
perform = 300
"""


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "p"
    folder.mkdir(exist_ok=True)
    (folder / "plugin.toml").write_text(text)
    return folder


def test_good_manifest_fields_and_flags(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, GOOD))
    assert (m.name, m.version, m.roles, m.challenges) == (
        "dns-example", "1.2.3", ("authenticator",), ("dns-01",))
    assert m.path == (tmp_path / "p").resolve()
    assert m.timeouts == {"perform": 300.0}
    assert m.env == ("HTTPS_PROXY",)
    creds = m.option("credentials")
    assert creds is not None and creds.secret and creds.type == "secret-file"
    prop = m.option("propagation-seconds")
    assert prop is not None
    assert prop.flag == "--dns-example-propagation-seconds"
    assert prop.dest == "dns_example_propagation_seconds"
    assert prop.default == 60
    assert m.option("zones").repeatable  # type: ignore[union-attr]
    assert m.argv() == [sys.executable, f"{m.path}/run.py", "--flag"]


def test_option_conversion_from_conf_strings() -> None:
    assert convert_value("int", " 42 ") == 42
    assert convert_value("bool", "True") is True
    assert convert_value("bool", "off") is False
    assert convert_value("list", "/var/www/a, /var/www/b,") == ["/var/www/a", "/var/www/b"]
    assert convert_value("list", '["x", "y"]') == ["x", "y"]
    assert convert_value("map", '{"a.test,b.test": "/www"}') == {"a.test,b.test": "/www"}
    with pytest.raises(ConfigurationError, match="expects an integer"):
        convert_value("int", "sixty", what="--x", origin="cli.ini:3")
    with pytest.raises(ConfigurationError, match="cli.ini:3"):
        convert_value("bool", "maybe", origin="cli.ini:3")
    with pytest.raises(ConfigurationError, match="JSON object"):
        convert_value("map", "{not json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'x'\nroles = ['authenticator']\ncommand = [", "invalid TOML"),
        ("roles = ['authenticator']\ncommand = ['a']", "missing required key 'name'"),
        ("name = 'Bad_Name'\nroles = ['authenticator']\ncommand = ['a']", "lowercase"),
        ("name = 'x'\nroles = ['server']\ncommand = ['a']", "roles"),
        ("name = 'x'\nroles = ['installer']\ncommand = []", "command must not be empty"),
        ("name = 'x'\nroles = ['installer']\ncommand = ['a']\n[[options]]\nname = 'o'\ntype = 'float'",
         "type 'float'"),
        ("name = 'x'\nroles = ['installer']\ncommand = ['a']\n[[options]]\nname = 'o'\ntype = 'int'\ndefault = 'ten'",
         "does not fit type 'int'"),
        ("name = 'x'\nroles = ['installer']\ncommand = ['a']\n[[options]]\nname = 'o'\n[[options]]\nname = 'o'",
         "declared twice"),
        ("name = 'x'\nroles = ['installer']\ncommand = ['a']\n[timeouts]\nperform = -1", "positive"),
    ],
)
def test_bad_manifests_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    folder = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as info:
        load_manifest(folder)
    assert message in str(info.value)
    assert str(folder / "plugin.toml") in str(info.value)
    assert "\n" not in str(info.value).strip()


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="file not found"):
        load_manifest(tmp_path / "nothing")


def test_builtin_dns_manifests_keep_certbot_keys() -> None:
    """Certbot renewal confs say dns_rfc2136_credentials; the manifest must agree."""
    root = Path(__file__).resolve().parents[2] / "plugins" / "dns" / "rfc2136"
    if not (root / "plugin.toml").exists():
        pytest.fail("the rfc2136 manifest is missing from the tree")
    m = load_manifest(root)
    assert m.name == "dns-rfc2136"
    assert {o.dest for o in m.options} >= {"dns_rfc2136_credentials",
                                           "dns_rfc2136_propagation_seconds"}
