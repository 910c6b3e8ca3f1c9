"""What a manifest's ``env`` may name (PROTOCOL.md §9.6), and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from certkernel.errors import ConfigurationError
from certkernel.plugin_host.discovery import discover
from certkernel.plugin_host.manifest import load_manifest
from certkernel.plugin_host.manifest_env import env_is_secret

HEAD = 'name = "{name}"\nroles = ["authenticator"]\ncommand = ["a"]\nenv = {env}\n'


def write(tmp_path: Path, name: str, env: str, extra: str = "") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "plugin.toml").write_text(HEAD.format(name=name, env=env) + extra)
    return folder


def test_own_prefix_and_public_names_are_accepted(tmp_path: Path) -> None:
    folder = write(tmp_path, "dns-example",
                   '["DNS_EXAMPLE_TOKEN", "HTTPS_PROXY", "LC_ALL", "TZ"]')
    manifest = load_manifest(folder, origin=str(tmp_path))
    assert manifest.env == ("DNS_EXAMPLE_TOKEN", "HTTPS_PROXY", "LC_ALL", "TZ")
    assert manifest.env_prefix == "DNS_EXAMPLE_"


@pytest.mark.parametrize(("name", "env", "extra", "message"), [
    ("dns-example", '["AWS_SECRET_ACCESS_KEY"]', "",
     "env names AWS_SECRET_ACCESS_KEY, which the plugin may not read (it is outside the "
     "plugin's prefix DNS_EXAMPLE_)"),
    ("aws", '["AWS_SECRET_ACCESS_KEY"]', "",
     "the prefix AWS_ belongs to others' credentials; rename the plugin"),
    ("dns-example", '["AWS_PROFILE"]', '[env_foreign]\nAWS_PROFILE = "boto3"\n',
     "only built-in plugins may declare variables outside their prefix"),
    ("dns-example", '["DNS_EXAMPLE_X"]', '[env_foreign]\nAWS_PROFILE = "boto3"\n',
     "env_foreign.AWS_PROFILE is not listed in env"),
    ("dns-example", '["AWS_PROFILE"]', '[env_foreign]\nAWS_PROFILE = ""\n',
     "env_foreign.AWS_PROFILE must be a string saying why"),
    ("dns-example", '["DNS_EXAMPLE_X=1"]', "", "'DNS_EXAMPLE_X=1' is not a variable name"),
])
def test_names_outside_the_rule_make_the_manifest_invalid(
        tmp_path: Path, name: str, env: str, extra: str, message: str) -> None:
    folder = write(tmp_path, name, env, extra)
    with pytest.raises(ConfigurationError) as info:
        load_manifest(folder, origin=str(tmp_path))
    assert message in str(info.value)
    assert str(folder / "plugin.toml") in str(info.value)


def test_a_builtin_may_declare_foreign_names_with_a_reason(tmp_path: Path) -> None:
    folder = write(tmp_path, "dns-example", '["AWS_PROFILE"]',
                   '[env_foreign]\nAWS_PROFILE = "boto3 reads it"\n')
    assert load_manifest(folder, origin="builtin").env_foreign == {"AWS_PROFILE": "boto3 reads it"}
    route53 = discover()["dns-route53"]
    assert "AWS_SECRET_ACCESS_KEY" in route53.env
    assert route53.origin == "builtin"


def test_which_passed_through_values_are_redacted() -> None:
    assert env_is_secret("AWS_SECRET_ACCESS_KEY")
    assert env_is_secret("DNS_CLOUDFLARE_API_TOKEN")
    assert env_is_secret("HTTPS_PROXY")  # may carry user:password@
    assert not env_is_secret("DNS_CLOUDFLARE_API_URL")
    assert not env_is_secret("DNS_RFC2136_PORT")
    assert not env_is_secret("LC_ALL")
