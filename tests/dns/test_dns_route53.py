"""dns-route53 against a local Route 53 (SigV4-checking, XML) on loopback.

The backend is the real boto3 client pointed at the fake with
``endpoint_url``; AWS credentials come from the environment as users give
them. The plugin-process test goes through the real plugin host, so the
manifest's env pass-through is what carries the credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certkernel.errors import PluginError
from certkernel.plugins.dns.core import ChallengeRunner
from certkernel.plugins.dns.route53 import Route53Backend
from tests.infra.fake_route53 import FakeRoute53


@dataclass
class Chall:
    validation_domain_name: str
    validation: str


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRoute53]:
    """A fake Route 53 and an environment holding only its credentials (no real ~/.aws)."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
    fake = FakeRoute53().start()
    yield fake
    fake.stop()


def runner(fake: FakeRoute53) -> ChallengeRunner:
    return ChallengeRunner(Route53Backend(endpoint_url=fake.url, resolvers=[]), 0)


def test_wildcard_and_apex_values_share_one_record_set(aws: FakeRoute53) -> None:
    name = "_acme-challenge.www.example.com"
    challs = [Chall(name, "wild-value"), Chall(name, "apex-value")]
    run = runner(aws)
    run.perform(challs)
    assert aws.txt(name) == ["apex-value", "wild-value"]
    assert len(aws.rrsets) == 1  # one TXT set holding both values
    run.cleanup(challs[:1])
    assert aws.txt(name) == ["apex-value"]  # UPSERT of what remains
    run.cleanup(challs)
    assert aws.txt(name) == [] and aws.rrsets == {}  # DELETE of the exact last set
    assert any(c.startswith("GET /2013-04-01/change/") for c in aws.calls)  # waited for INSYNC
    assert aws.violations == []


def test_private_zone_of_the_same_name_is_not_used(aws: FakeRoute53) -> None:
    backend = Route53Backend(endpoint_url=aws.url, resolvers=[])
    assert backend.find_zone("_acme-challenge.a.example.com") == "example.com"
    with pytest.raises(PluginError, match="no public hosted zone .* holds _acme-challenge.x.example.com.internal"):
        backend.find_zone("_acme-challenge.x.example.com.internal")


def test_wrong_secret_is_one_clear_error(aws: FakeRoute53, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "typo")
    with pytest.raises(PluginError) as info:
        runner(aws).perform([Chall("_acme-challenge.example.com", "v")])
    assert str(info.value).startswith("dns-route53: AWS rejected the credentials (SignatureDoesNotMatch")
    assert "\n" not in str(info.value)
    assert aws.rrsets == {}


def test_unknown_key_id_is_one_clear_error(aws: FakeRoute53, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDOTHER")
    with pytest.raises(PluginError, match=r"^dns-route53: AWS rejected the credentials \(InvalidClientTokenId"):
        runner(aws).perform([Chall("_acme-challenge.example.com", "v")])


def test_no_credentials_anywhere_says_where_to_put_them(aws: FakeRoute53,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(PluginError) as info:
        Route53Backend(endpoint_url=aws.url, resolvers=[])
    message = str(info.value)
    assert message.startswith("dns-route53: no AWS credentials found")
    assert "AWS_ACCESS_KEY_ID" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert aws.calls == []


def test_credentials_file_named_by_environment_is_used(aws: FakeRoute53, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIDFAKE\naws_secret_access_key = fake-secret\n")
    creds.chmod(0o600)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    run = runner(aws)
    run.perform([Chall("_acme-challenge.example.com", "from-file")])
    assert aws.txt("_acme-challenge.example.com") == ["from-file"]


def test_unreachable_endpoint_is_a_clear_error(aws: FakeRoute53) -> None:
    url = aws.url
    aws.stop()
    with pytest.raises(PluginError, match="^dns-route53: cannot reach the Route 53 API"):
        ChallengeRunner(Route53Backend(endpoint_url=url, resolvers=[]), 0).perform(
            [Chall("_acme-challenge.example.com", "v")])


def test_plugin_process_gets_aws_credentials_from_the_environment(aws: FakeRoute53,
                                                                  tmp_path: Path) -> None:
    from certkernel.plugin_host.discovery import discover
    from certkernel.plugin_host.launch import start_plugin
    from certkernel.plugin_host.proxies import RemoteAuthenticator
    from certkernel.plugin_host.services import KernelServices
    from certkernel.protocol.messages import Challenge

    manifest = discover()["dns-route53"]
    flags = {o.flag: o.default for o in manifest.options}
    assert flags["--dns-route53-propagation-seconds"] == 10
    chall = Challenge(identifier="example.com", type="dns-01", token="t", key_authorization="t.k",
                      validation="via-process", validation_domain_name="_acme-challenge.example.com")
    with start_plugin(manifest, KernelServices("dns-route53").handle,
                      options={"propagation-seconds": 0, "endpoint-url": aws.url}, secrets={},
                      state_dir=str(tmp_path / "r53")) as proc:
        auth = RemoteAuthenticator(proc)
        auth.prepare()
        auth.perform([chall])
        assert aws.txt("_acme-challenge.example.com") == ["via-process"]
        auth.cleanup([chall])
    assert aws.txt("_acme-challenge.example.com") == []
    assert aws.violations == []
