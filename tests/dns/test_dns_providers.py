"""HTTP-API providers against local fakes of their APIs, and their credential checks.

Each fake is a real HTTP server on loopback (``fake_providers.py``); the
plugin reaches it through the optional ``dns_<provider>_api_url`` credential.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certkernel.errors import PluginError
from certkernel.plugins.dns.core import ChallengeRunner
from certkernel.plugins.dns.credentials import resolve_credentials
from certkernel.plugins.dns.lexicon_backend import LexiconBackend
from certkernel.plugins.dns.providers import PROVIDERS
from tests.dns import fake_providers, fake_providers2, fake_providers3
from tests.infra.fakeapi import FakeApi


@dataclass
class Chall:
    validation_domain_name: str
    validation: str


@dataclass(frozen=True)
class Case:
    provider: str
    make: Callable[[], FakeApi]
    secrets: dict[str, str]
    wrong: dict[str, str]


CASES = [
    Case("cloudflare", fake_providers.cloudflare, {"dns_cloudflare_api_token": "cf-token"},
         {"dns_cloudflare_api_token": "stolen"}),
    Case("digitalocean", fake_providers.digitalocean, {"dns_digitalocean_token": "do-token"},
         {"dns_digitalocean_token": "expired"}),
    Case("luadns", fake_providers.luadns,
         {"dns_luadns_email": "joe@example.com", "dns_luadns_token": "lua-token"},
         {"dns_luadns_token": "guess"}),
    Case("dnsimple", fake_providers2.dnsimple, {"dns_dnsimple_token": "dnsimple-token"},
         {"dns_dnsimple_token": "revoked"}),
    Case("dnsmadeeasy", fake_providers2.dnsmadeeasy,
         {"dns_dnsmadeeasy_api_key": "dme-key", "dns_dnsmadeeasy_secret_key": "dme-secret"},
         {"dns_dnsmadeeasy_secret_key": "not-the-secret"}),
    Case("gehirn", fake_providers3.gehirn,
         {"dns_gehirn_api_token": "gehirn-token", "dns_gehirn_api_secret": "gehirn-secret"},
         {"dns_gehirn_api_secret": "nope"}),
    Case("linode", fake_providers2.linode, {"dns_linode_key": "linode-token",
                                            "dns_linode_version": "4"},
         {"dns_linode_key": "old"}),
    Case("nsone", fake_providers2.nsone, {"dns_nsone_api_key": "ns1-key"},
         {"dns_nsone_api_key": "wrong"}),
    Case("ovh", fake_providers3.ovh,
         {"dns_ovh_endpoint": "ovh-eu", "dns_ovh_application_key": "ovh-app",
          "dns_ovh_application_secret": "ovh-secret", "dns_ovh_consumer_key": "ovh-consumer"},
         {"dns_ovh_consumer_key": "expired-consumer"}),
    Case("sakuracloud", fake_providers3.sakuracloud,
         {"dns_sakuracloud_api_token": "sakura-token",
          "dns_sakuracloud_api_secret": "sakura-secret"},
         {"dns_sakuracloud_api_token": "other"}),
]


@pytest.fixture(params=CASES, ids=[c.provider for c in CASES])
def case(request: pytest.FixtureRequest) -> Iterator[tuple[Case, FakeApi]]:
    api = request.param.make().start()
    yield request.param, api
    api.stop()


def backend_for(case: Case, api: FakeApi, **override: str) -> LexiconBackend:
    secrets = {**case.secrets, f"dns_{case.provider}_api_url": api.url, **override}
    spec = PROVIDERS[case.provider]
    creds = resolve_credentials(case.provider, spec.credentials, secrets, {})
    return LexiconBackend(spec, creds, resolvers=[])  # no DNS lookups: the zone is fake


def test_wildcard_and_apex_values_added_then_removed(case: tuple[Case, FakeApi]) -> None:
    spec, api = case
    host = f"w{uuid.uuid4().hex[:6]}.example.com"
    name = f"_acme-challenge.{host}"
    challs = [Chall(name, "wild-value"), Chall(name, "apex-value")]
    run = ChallengeRunner(backend_for(spec, api), 0)
    run.perform(challs)
    assert api.txt(name) == ["apex-value", "wild-value"]
    run.cleanup(challs)
    assert api.txt(name) == []
    assert api.violations == []


def test_zone_is_found_by_trying_the_most_specific_name_first(case: tuple[Case, FakeApi]) -> None:
    spec, api = case
    assert backend_for(spec, api).find_zone("_acme-challenge.a.b.example.com") == "example.com"
    assert api.violations == []


def test_rejected_credentials_are_one_clear_error(case: tuple[Case, FakeApi]) -> None:
    spec, api = case
    run = ChallengeRunner(backend_for(spec, api, **spec.wrong), 0)
    with pytest.raises(PluginError) as info:
        run.perform([Chall("_acme-challenge.example.com", "v")])
    message = str(info.value)
    assert message.startswith(f"dns-{spec.provider}: ")
    assert "rejected the credentials" in message
    assert f"--dns-{spec.provider}-credentials" in message
    assert api.records == {}


def test_zone_not_in_account_is_a_clear_error(case: tuple[Case, FakeApi]) -> None:
    spec, api = case
    with pytest.raises(PluginError, match="is a zone in this"):
        ChallengeRunner(backend_for(spec, api), 0).perform([Chall("_acme-challenge.other.org", "v")])
    assert api.records == {}


def test_unreachable_api_is_a_clear_error(case: tuple[Case, FakeApi]) -> None:
    spec, api = case
    api.stop()
    with pytest.raises(PluginError, match="cannot reach the"):
        ChallengeRunner(backend_for(spec, api), 0).perform([Chall("_acme-challenge.example.com", "v")])


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_credential_file_errors_name_every_missing_key(provider: str) -> None:
    spec = PROVIDERS[provider].credentials
    with pytest.raises(PluginError) as info:
        resolve_credentials(provider, spec, {}, {})
    message = str(info.value)
    assert message.startswith(f"dns-{provider}: missing credentials:")
    for key in spec.required:
        assert f"dns_{provider}_{key}" in message
    for group in spec.alternatives:
        for key in group:
            assert f"dns_{provider}_{key}" in message
    assert f"--dns-{provider}-credentials" in message


def test_cloudflare_email_without_key_names_the_missing_key() -> None:
    spec = PROVIDERS["cloudflare"].credentials
    with pytest.raises(PluginError) as info:
        resolve_credentials("cloudflare", spec, {"dns_cloudflare_email": "a@b.c"}, {})
    assert "dns_cloudflare_api_key" in str(info.value)
    assert "DNS_CLOUDFLARE_API_KEY" in str(info.value)


def test_cloudflare_global_key_sends_email_and_key_headers() -> None:
    api = fake_providers.cloudflare()
    api.authorized = lambda h: h.get("x-auth-email") == "a@b.c" and h.get("x-auth-key") == "gk"
    api.start()
    try:
        creds = resolve_credentials("cloudflare", PROVIDERS["cloudflare"].credentials,
                                    {"dns_cloudflare_email": "a@b.c", "dns_cloudflare_api_key": "gk",
                                     "dns_cloudflare_api_url": api.url}, {})
        run = ChallengeRunner(LexiconBackend(PROVIDERS["cloudflare"], creds, resolvers=[]), 0)
        run.perform([Chall("_acme-challenge.example.com", "g")])
        assert api.txt("_acme-challenge.example.com") == ["g"]
        run.cleanup([Chall("_acme-challenge.example.com", "g")])
        assert api.txt("_acme-challenge.example.com") == [] and api.violations == []
    finally:
        api.stop()


def test_environment_credentials_reach_the_plugin_process(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from certkernel.plugin_host.discovery import discover
    from certkernel.plugin_host.launch import start_plugin
    from certkernel.plugin_host.proxies import RemoteAuthenticator
    from certkernel.plugin_host.services import KernelServices
    from certkernel.protocol.messages import Challenge

    api = fake_providers.digitalocean().start()
    monkeypatch.setenv("DNS_DIGITALOCEAN_TOKEN", "do-token")
    monkeypatch.setenv("DNS_DIGITALOCEAN_API_URL", api.url)
    chall = Challenge(identifier="example.com", type="dns-01", token="t", key_authorization="t.k",
                      validation="from-env", validation_domain_name="_acme-challenge.example.com")
    try:
        manifest = discover()["dns-digitalocean"]
        with start_plugin(manifest, KernelServices("dns-digitalocean").handle,
                          options={"propagation-seconds": 0}, secrets={},
                          state_dir=str(tmp_path / "do")) as proc:
            auth = RemoteAuthenticator(proc)
            auth.prepare()
            auth.perform([chall])
            assert api.txt("_acme-challenge.example.com") == ["from-env"]
            auth.cleanup([chall])
        assert api.txt("_acme-challenge.example.com") == []
        assert api.violations == []
    finally:
        api.stop()
