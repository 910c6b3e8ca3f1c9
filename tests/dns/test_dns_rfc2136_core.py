"""The dns-01 core with the RFC 2136 backend, against a real BIND.

What a user checks: the TXT values are served while validation runs, are gone
afterwards, a wrong key fails clearly without leaving anything behind, and a
CNAME on ``_acme-challenge`` is honoured.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass

import pytest

from certkernel.errors import PluginError
from certkernel.plugins.dns import rfc2136
from certkernel.plugins.dns.core import ChallengeRunner
from certkernel.plugins.dns.credentials import resolve_credentials
from tests.infra.bind import Bind
from tests.infra.pebble import free_port_tcp_udp


@dataclass
class Chall:
    validation_domain_name: str
    validation: str


def runner(bind: Bind, seconds: float = 30, **overrides: str) -> ChallengeRunner:
    creds = resolve_credentials("rfc2136", rfc2136.CREDENTIALS, bind.credentials(**overrides), {})
    return ChallengeRunner(rfc2136.Rfc2136Backend(rfc2136.parse_config(creds)), seconds)


def fresh(zone: str) -> str:
    """A name nobody else in this session uses."""
    return f"t{uuid.uuid4().hex[:10]}.{zone}"


def test_wildcard_and_apex_share_one_name_with_two_values(bind: Bind) -> None:
    name = "_acme-challenge." + fresh("example.com")
    challs = [Chall(name, "wildcard-value"), Chall(name, "apex-value")]
    run = runner(bind)
    run.perform(challs)
    assert bind.txt(name) == ["apex-value", "wildcard-value"]
    run.cleanup(challs)
    assert bind.txt(name) == []


def test_propagation_returns_as_soon_as_bind_serves_the_record(bind: Bind) -> None:
    name = "_acme-challenge." + fresh("example.com")
    challs = [Chall(name, "quick")]
    run = runner(bind, seconds=60)
    started = time.monotonic()
    result = run.perform(challs)
    elapsed = time.monotonic() - started
    try:
        assert result.visible
        assert elapsed < 5, f"waited {elapsed:.1f}s although BIND served the record at once"
    finally:
        run.cleanup(challs)


@pytest.mark.parametrize(
    "override",
    [
        {"dns_rfc2136_secret": base64.b64encode(b"not the key" * 3).decode()},
        {"dns_rfc2136_name": "intruder-key"},
        {"dns_rfc2136_algorithm": "HMAC-SHA512"},
    ],
    ids=["wrong-secret", "wrong-name", "wrong-algorithm"],
)
def test_wrong_tsig_key_fails_clearly_and_leaves_nothing(bind: Bind, override: dict[str, str]) -> None:
    name = "_acme-challenge." + fresh("example.com")
    challs = [Chall(name, "never")]
    with pytest.raises(PluginError) as info:
        runner(bind, **override).perform(challs)
    message = str(info.value)
    assert "rejected TSIG key" in message
    assert "dns_rfc2136_secret" in message
    assert bind.txt(name) == []


def test_cname_on_acme_challenge_is_followed_to_the_zone_holding_it(bind: Bind) -> None:
    host = fresh("example.com")
    target = fresh("validation.example.net")
    bind.update("example.com", add=[(f"_acme-challenge.{host}.", 60, "CNAME", f"{target}.")])
    challs = [Chall(f"_acme-challenge.{host}", "delegated-value")]
    run = runner(bind)
    plan = run.plan(challs)
    assert [(r.zone, r.fqdn) for r in plan] == [("validation.example.net", target)]
    run.perform(challs)
    assert bind.txt(target) == ["delegated-value"]
    run.cleanup(challs)
    assert bind.txt(target) == []


def test_zone_is_guessed_from_the_most_specific_name(bind: Bind) -> None:
    backend = runner(bind).backend
    assert backend.find_zone("_acme-challenge.a.b.c.example.org") == "example.org"
    assert backend.find_zone("_acme-challenge.x.validation.example.net") == "validation.example.net"


def test_name_in_no_zone_of_the_server_is_a_clear_error(bind: Bind) -> None:
    with pytest.raises(PluginError, match="not authoritative for any zone holding"):
        runner(bind).perform([Chall("_acme-challenge.nowhere.invalid", "v")])


def test_failure_on_second_zone_removes_what_was_already_added(bind: Bind) -> None:
    first = "_acme-challenge." + fresh("example.com")
    challs = [Chall(first, "first"), Chall("_acme-challenge." + fresh("locked.test"), "second")]
    with pytest.raises(PluginError, match=r"refused .* \(check update-policy\)"):
        runner(bind).perform(challs)
    assert bind.txt(first) == []


def test_cleanup_twice_and_in_a_fresh_runner_is_harmless(bind: Bind) -> None:
    name = "_acme-challenge." + fresh("example.com")
    challs = [Chall(name, "once")]
    runner(bind).perform(challs)
    runner(bind).cleanup(challs)  # a new runner: as after a plugin restart
    runner(bind).cleanup(challs)
    assert bind.txt(name) == []


def test_unreachable_server_is_a_clear_error(bind: Bind) -> None:
    closed = free_port_tcp_udp()
    with pytest.raises(PluginError, match=f"127.0.0.1:{closed}"):
        runner(bind, dns_rfc2136_port=str(closed)).perform([Chall("_acme-challenge.example.com", "v")])


def test_propagation_wait_is_bounded_when_a_value_never_appears(bind: Bind) -> None:
    from certkernel.plugins.dns.lookup import Nameserver
    from certkernel.plugins.dns.propagation import wait_for_txt

    name = "_acme-challenge." + fresh("example.com")
    started = time.monotonic()
    result = wait_for_txt({name: {"absent"}}, [Nameserver("127.0.0.1", bind.port)], 1.0)
    elapsed = time.monotonic() - started
    assert not result.visible and result.missing == {name: {"absent"}}
    assert 0.9 <= elapsed < 3
    assert result.polls >= 3


def test_all_credential_problems_are_reported_at_once() -> None:
    with pytest.raises(PluginError) as info:
        resolve_credentials("rfc2136", rfc2136.CREDENTIALS, {"dns_rfc2136_port": "53"}, {})
    message = str(info.value)
    for key in ("dns_rfc2136_server", "dns_rfc2136_name", "dns_rfc2136_secret"):
        assert key in message
    assert message.startswith("dns-rfc2136:")
    assert "--dns-rfc2136-credentials" in message


def test_bad_credential_values_are_reported_at_once() -> None:
    creds = resolve_credentials(
        "rfc2136", rfc2136.CREDENTIALS,
        {"dns_rfc2136_server": "ns.example.com", "dns_rfc2136_name": "k",
         "dns_rfc2136_secret": "%%%", "dns_rfc2136_algorithm": "HMAC-FOO",
         "dns_rfc2136_port": "99999"}, {},
    )
    with pytest.raises(PluginError) as info:
        rfc2136.parse_config(creds)
    message = str(info.value)
    for fragment in ("must be an IP address", "port number", "HMAC-FOO", "not valid base64"):
        assert fragment in message


def test_environment_variables_supply_credentials(bind: Bind) -> None:
    env = {k.upper(): v for k, v in bind.credentials().items()}
    creds = resolve_credentials("rfc2136", rfc2136.CREDENTIALS, {}, env)
    name = "_acme-challenge." + fresh("example.com")
    run = ChallengeRunner(rfc2136.Rfc2136Backend(rfc2136.parse_config(creds)), 10)
    run.perform([Chall(name, "from-env")])
    assert bind.txt(name) == ["from-env"]
    run.cleanup([Chall(name, "from-env")])
    assert bind.txt(name) == []
