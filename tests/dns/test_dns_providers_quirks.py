"""Provider-specific behaviour the shared provider tests do not cover.

OVH signs every call (a wrong secret is a 400 "Invalid signature", still a
credential problem for the user) and needs a zone refresh after changes;
Linode's base URL is joined without a slash; OVH endpoints are names.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from certkernel.errors import PluginError
from certkernel.plugins.dns.core import ChallengeRunner
from certkernel.plugins.dns.credentials import resolve_credentials
from certkernel.plugins.dns.lexicon_backend import LexiconBackend
from certkernel.plugins.dns.providers import PROVIDERS
from tests.dns import fake_providers2, fake_providers3

OVH = {"dns_ovh_endpoint": "ovh-eu", "dns_ovh_application_key": "ovh-app",
       "dns_ovh_application_secret": "ovh-secret", "dns_ovh_consumer_key": "ovh-consumer"}


@dataclass
class Chall:
    validation_domain_name: str
    validation: str


def runner(provider: str, secrets: dict[str, str]) -> ChallengeRunner:
    spec = PROVIDERS[provider]
    creds = resolve_credentials(provider, spec.credentials, secrets, {})
    return ChallengeRunner(LexiconBackend(spec, creds, resolvers=[]), 0)


def test_ovh_wrong_application_secret_is_a_credential_error() -> None:
    api = fake_providers3.ovh().start()
    try:
        run = runner("ovh", {**OVH, "dns_ovh_application_secret": "typo",
                             "dns_ovh_api_url": api.url})
        with pytest.raises(PluginError) as info:
            run.perform([Chall("_acme-challenge.example.com", "v")])
        assert str(info.value).startswith("dns-ovh: the OVH API rejected the credentials (HTTP 400)")
        assert api.records == {}
    finally:
        api.stop()


def test_ovh_refreshes_the_zone_after_adding_and_after_removing() -> None:
    api = fake_providers3.ovh().start()
    try:
        run = runner("ovh", {**OVH, "dns_ovh_api_url": api.url})
        challs = [Chall("_acme-challenge.example.com", "one")]
        run.perform(challs)
        assert api.txt("_acme-challenge.example.com") == ["one"]
        assert api.refreshed == ["example.com"]  # type: ignore[attr-defined]
        run.cleanup(challs)
        assert api.txt("_acme-challenge.example.com") == []
        assert api.refreshed == ["example.com", "example.com"]  # type: ignore[attr-defined]
        signed = [r for r in api.requests if r.path != "/auth/time"]
        assert signed and all(r.headers["x-ovh-signature"].startswith("$1$") for r in signed)
        assert api.violations == []
    finally:
        api.stop()


def test_ovh_unknown_endpoint_name_is_a_clear_error() -> None:
    run = runner("ovh", {**OVH, "dns_ovh_endpoint": "ovh-mars"})
    with pytest.raises(PluginError, match=r"^dns-ovh: .*dns_ovh_endpoint"):
        run.perform([Chall("_acme-challenge.example.com", "v")])


@pytest.mark.parametrize("suffix", ["", "/"])
def test_linode_api_url_works_with_or_without_trailing_slash(suffix: str) -> None:
    api = fake_providers2.linode().start()
    try:
        run = runner("linode", {"dns_linode_key": "linode-token",
                                "dns_linode_api_url": api.url + suffix})
        run.perform([Chall("_acme-challenge.www.example.com", "v")])
        assert api.txt("_acme-challenge.www.example.com") == ["v"]
        assert any(r.headers.get("x-filter") == '{"domain": "example.com"}' for r in api.requests)
        assert api.violations == []
    finally:
        api.stop()


def test_dnsmadeeasy_requests_carry_a_fresh_hmac_of_the_date() -> None:
    api = fake_providers2.dnsmadeeasy().start()
    try:
        run = runner("dnsmadeeasy", {"dns_dnsmadeeasy_api_key": "dme-key",
                                     "dns_dnsmadeeasy_secret_key": "dme-secret",
                                     "dns_dnsmadeeasy_api_url": api.url})
        challs = [Chall("_acme-challenge.example.com", "a"), Chall("_acme-challenge.example.com", "b")]
        run.perform(challs)
        assert api.txt("_acme-challenge.example.com") == ["a", "b"]
        run.cleanup(challs[:1])
        assert api.txt("_acme-challenge.example.com") == ["b"]  # only the value asked for goes
        assert all(len(r.headers["x-dnsme-hmac"]) == 40 for r in api.requests)
        assert api.violations == []
    finally:
        api.stop()
