"""The DNS plugins as users run them: separate processes, through the plugin host.

The kernel side here is the real plugin host (manifest discovery, spawn,
handshake, RemoteAuthenticator); the DNS side is a real BIND.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from certkernel.errors import NotSupportedError, PluginError
from certkernel.plugin_host.discovery import discover
from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.proxies import RemoteAuthenticator
from certkernel.plugin_host.services import KernelServices
from certkernel.protocol.messages import Challenge
from tests.infra.bind import Bind

MANIFESTS = discover()


def dns_challenge(name: str, value: str, wildcard: bool = False) -> Challenge:
    return Challenge(
        identifier=name, type="dns-01", token="tok", key_authorization="tok.thumb",
        validation=value, wildcard=wildcard, validation_domain_name=f"_acme-challenge.{name}",
    )


@contextmanager
def plugin(name: str, tmp_path: Path, secrets: dict[str, str],
           options: dict[str, Any] | None = None,
           progress: list[str] | None = None) -> Iterator[RemoteAuthenticator]:
    manifest = MANIFESTS[name]
    seen = progress if progress is not None else []
    proc = start_plugin(
        manifest, KernelServices(name).handle, options=options or {}, secrets=secrets,
        state_dir=str(tmp_path / name),
        on_progress=lambda _n, p: seen.append(str(p.get("message", ""))),
    )
    with proc:
        yield RemoteAuthenticator(proc)


def test_every_certbot_dns_plugin_is_listed_with_certbot_flags() -> None:
    expected = {"rfc2136": 60, "cloudflare": 10, "digitalocean": 10, "dnsimple": 30,
                "dnsmadeeasy": 60, "gehirn": 30, "linode": 120, "luadns": 30, "nsone": 30,
                "ovh": 30, "sakuracloud": 90, "cloudxns": 30}
    for provider, seconds in expected.items():
        manifest = MANIFESTS[f"dns-{provider}"]
        flags = {o.flag: o for o in manifest.options}
        assert flags[f"--dns-{provider}-credentials"].type == "secret-file"
        assert flags[f"--dns-{provider}-credentials"].dest == f"dns_{provider}_credentials"
        assert flags[f"--dns-{provider}-propagation-seconds"].default == seconds
        assert manifest.challenges == ("dns-01",)


def test_rfc2136_plugin_process_issues_wildcard_and_apex_records(bind: Bind, tmp_path: Path) -> None:
    zone_host = f"p{uuid.uuid4().hex[:8]}.example.com"
    challs = [dns_challenge(zone_host, "wild", wildcard=True), dns_challenge(zone_host, "apex")]
    with plugin("dns-rfc2136", tmp_path, bind.credentials(),
                {"propagation-seconds": 30}) as auth:
        auth.prepare()
        assert auth.get_chall_pref(zone_host) == ["dns-01"]
        auth.perform(challs)
        assert bind.txt(f"_acme-challenge.{zone_host}") == ["apex", "wild"]
        auth.cleanup(challs)
    assert bind.txt(f"_acme-challenge.{zone_host}") == []


def test_rfc2136_wrong_key_is_one_clear_error_across_the_process(bind: Bind, tmp_path: Path) -> None:
    name = f"p{uuid.uuid4().hex[:8]}.example.com"
    secrets = bind.credentials(dns_rfc2136_secret="d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc=")
    with plugin("dns-rfc2136", tmp_path, secrets) as auth:
        auth.prepare()
        with pytest.raises(PluginError) as info:
            auth.perform([dns_challenge(name, "x")])
    assert "rejected TSIG key 'acme-key'" in str(info.value)
    assert "\n" not in str(info.value)
    assert bind.txt(f"_acme-challenge.{name}") == []


def test_missing_credentials_fail_in_prepare_naming_every_key(tmp_path: Path) -> None:
    with plugin("dns-rfc2136", tmp_path, {"dns_rfc2136_server": "127.0.0.1"}) as auth:
        with pytest.raises(PluginError) as info:
            auth.prepare()
    message = str(info.value)
    assert "dns_rfc2136_name" in message and "dns_rfc2136_secret" in message
    assert "dns_rfc2136_server," not in message


def test_cloudxns_says_the_service_is_gone(tmp_path: Path) -> None:
    with plugin("dns-cloudxns", tmp_path, {}) as auth:
        with pytest.raises(NotSupportedError, match="shut down"):
            auth.prepare()
