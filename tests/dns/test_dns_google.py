"""dns-google against a local OAuth2 token endpoint and Cloud DNS API.

The fake verifies the RS256 JWT with the service account's public key, so
a key file holding another key is refused the way Google refuses it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from certkernel.errors import PluginError
from certkernel.plugins.dns.core import ChallengeRunner
from certkernel.plugins.dns.google import GoogleBackend, load_service_account
from tests.infra.fake_google import FakeGoogle


@dataclass
class Chall:
    validation_domain_name: str
    validation: str


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    fake = FakeGoogle().start()
    yield fake
    fake.stop()


def runner(fake: FakeGoogle, key_file: Path) -> ChallengeRunner:
    backend = GoogleBackend(load_service_account(str(key_file)), api_url=fake.dns_url, resolvers=[])
    return ChallengeRunner(backend, 0)


def test_wildcard_and_apex_values_added_then_removed(google: FakeGoogle, tmp_path: Path) -> None:
    name = "_acme-challenge.www.example.com"
    challs = [Chall(name, "wild-value"), Chall(name, "apex-value")]
    run = runner(google, google.key_file(tmp_path / "sa.json"))
    run.perform(challs)
    assert google.txt(name) == ["apex-value", "wild-value"]
    assert len(google.rrsets) == 1
    run.cleanup(challs[:1])
    assert google.txt(name) == ["apex-value"]
    run.cleanup(challs)
    assert google.txt(name) == [] and google.rrsets == {}
    assert google.grants == 1  # one token, reused
    assert any(r.path.endswith("/changes/1") for r in google.api.requests)  # waited for done
    assert google.api.violations == []


def test_zone_is_the_public_one_most_specific_first(google: FakeGoogle, tmp_path: Path) -> None:
    backend = GoogleBackend(load_service_account(str(google.key_file(tmp_path / "sa.json"))),
                            api_url=google.dns_url, resolvers=[])
    assert backend.find_zone("_acme-challenge.a.internal.example.com") == "example.com"
    asked = [r.query.get("dnsName") for r in google.api.requests if r.path.endswith("/managedZones")]
    assert asked == ["_acme-challenge.a.internal.example.com.", "a.internal.example.com.",
                     "internal.example.com.", "example.com."]
    with pytest.raises(PluginError, match="is a public managed zone in project acme-dns-123"):
        backend.find_zone("_acme-challenge.other.org")


def test_key_file_with_another_key_is_one_clear_error(google: FakeGoogle, tmp_path: Path) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    run = runner(google, google.key_file(tmp_path / "sa.json", key=other))
    with pytest.raises(PluginError) as info:
        run.perform([Chall("_acme-challenge.example.com", "v")])
    message = str(info.value)
    assert message.startswith("dns-google: Google rejected the service-account credentials "
                              "(HTTP 400: Invalid JWT Signature.)")
    assert "--dns-google-credentials" in message and "\n" not in message
    assert google.rrsets == {}


def test_missing_keys_in_the_json_are_reported_at_once(google: FakeGoogle, tmp_path: Path) -> None:
    path = google.key_file(tmp_path / "sa.json", private_key=None, client_email=None)
    with pytest.raises(PluginError) as info:
        load_service_account(str(path))
    assert "missing keys: private_key, client_email" in str(info.value)


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"),
    ("[default]\ndns_google_key = x\n", "not a JSON service-account key"),
    (json.dumps({"type": "authorized_user", "project_id": "p", "private_key": "k",
                 "client_email": "e"}), "type is 'authorized_user', not 'service_account'"),
])
def test_bad_credentials_files_are_one_clear_error(tmp_path: Path, content: str | None,
                                                   expected: str) -> None:
    path = tmp_path / "sa.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PluginError) as info:
        load_service_account(str(path))
    assert str(info.value).startswith(f"dns-google: --dns-google-credentials {path}: {expected}")


def test_token_without_dns_rights_is_one_clear_error(google: FakeGoogle, tmp_path: Path) -> None:
    google.api.authorized = lambda h: False  # every token refused by the DNS API
    with pytest.raises(PluginError, match=r"^dns-google: the Cloud DNS API refused to look up zone "
                                          r".*\(HTTP 401: Request had invalid authentication"):
        runner(google, google.key_file(tmp_path / "sa.json")).perform(
            [Chall("_acme-challenge.example.com", "v")])


def test_plugin_process_uses_the_json_key_the_kernel_read(
        google: FakeGoogle, tmp_path: Path) -> None:
    from certkernel.plugin_host.discovery import discover
    from certkernel.plugin_host.launch import start_plugin
    from certkernel.plugin_host.proxies import RemoteAuthenticator
    from certkernel.plugin_host.services import KernelServices
    from certkernel.protocol.messages import Challenge

    manifest = discover()["dns-google"]
    flags = {o.flag: o for o in manifest.options}
    assert flags["--dns-google-propagation-seconds"].default == 60
    assert flags["--dns-google-credentials"].type == "secret-text"  # read by the kernel
    chall = Challenge(identifier="example.com", type="dns-01", token="t", key_authorization="t.k",
                      validation="via-process", validation_domain_name="_acme-challenge.example.com")
    key = google.key_file(tmp_path / "sa.json")
    text = key.read_text()
    key.unlink()  # the plugin must use the text it was sent, not the file
    with start_plugin(manifest, KernelServices("dns-google").handle,
                      options={"propagation-seconds": 0, "credentials": str(key),
                               "api-url": google.dns_url},
                      secrets={"dns_google_credentials": text},
                      state_dir=str(tmp_path / "g")) as proc:
        auth = RemoteAuthenticator(proc)
        auth.prepare()
        auth.perform([chall])
        assert google.txt("_acme-challenge.example.com") == ["via-process"]
        auth.cleanup([chall])
    assert google.txt("_acme-challenge.example.com") == []
    assert google.api.violations == []


def test_plugin_process_without_credentials_says_metadata_is_unsupported(tmp_path: Path) -> None:
    from certkernel.plugin_host.discovery import discover
    from certkernel.plugin_host.launch import start_plugin
    from certkernel.plugin_host.proxies import RemoteAuthenticator
    from certkernel.plugin_host.services import KernelServices

    with start_plugin(discover()["dns-google"], KernelServices("dns-google").handle, options={},
                      secrets={}, state_dir=str(tmp_path / "g")) as proc:
        with pytest.raises(PluginError, match="--dns-google-credentials is required.*metadata"):
            RemoteAuthenticator(proc).prepare()
