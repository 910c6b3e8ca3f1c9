"""``renew`` against CAs with ACME Renewal Information, through the real CLI.

What a user checks: a lineage whose window has begun is renewed and the
order names the certificate it replaces; one whose window is ahead is left
alone without a single request to the CA (even with the CA gone);
Retry-After is honoured; a CA without ARI (Pebble) falls back to
``renew_before_expiry``; an unreachable CA never fails the run.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
import socket
import sys
from typing import Any

from cryptography import x509

from tests.ari.conftest import RETRY_AFTER, Host
from tests.infra.a2c import A2C
from tests.infra.pebble import Pebble

NAME = "ari.example.org"


def spec_cert_id(cert_pem: bytes) -> str:
    """RFC 9773 §4.1, computed here independently of certkernel."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier is not None
    n = cert.serial_number
    serial = n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True)
    enc = [base64.urlsafe_b64encode(b).decode().rstrip("=") for b in (aki.key_identifier, serial)]
    return ".".join(enc)


def when(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def state(host: Host, name: str = NAME) -> dict[str, Any]:
    return json.loads(host.ari_file(name).read_text())


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/directory"


def set_conf(host: Host, name: str, key: str, value: str | None) -> None:
    path = host.conf_path(name)
    text = re.sub(rf"^{key} = .*\n", "", path.read_text(), flags=re.M)
    if value is not None:
        text = text.replace("[renewalparams]\n", f"[renewalparams]\n{key} = {value}\n") \
            if key == "server" else f"{key} = {value}\n" + text
    path.write_text(text)


def make_stale(host: Host, name: str = NAME) -> None:
    data = state(host, name)
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    data["next_check"] = past.isoformat()
    host.ari_file(name).write_text(json.dumps(data))


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def test_open_window_renews_and_the_order_names_the_replaced_cert(host: Host,
                                                                  a2c_now: A2C) -> None:
    host.issue(NAME, a2c_now.directory_url)
    old_cert = host.current_cert(NAME)
    cached = state(host)
    assert cached["cert_sha256"] == hashlib.sha256(old_cert).hexdigest()
    assert cached["cert_id"] == spec_cert_id(old_cert)
    assert when(cached["window"]["start"]) < now()
    mark = a2c_now.mark()

    result = host.renew()

    assert result.returncode == 0, result.stderr
    assert "Congratulations, all renewals succeeded" in result.stdout
    orders = a2c_now.new_orders(mark)
    assert [o.get("replaces") for o in orders] == [spec_cert_id(old_cert)]
    new_cert = host.current_cert(NAME)
    assert new_cert != old_cert
    # The new cert's window is cached at once, for the next (offline) run.
    assert state(host)["cert_sha256"] == hashlib.sha256(new_cert).hexdigest()


def test_dry_run_orders_without_replaces_and_keeps_the_cert(host: Host, a2c_now: A2C) -> None:
    host.issue(NAME, a2c_now.directory_url)
    before = host.current_cert(NAME)
    mark = a2c_now.mark()

    result = host.renew("--dry-run")

    assert result.returncode == 0, result.stderr
    orders = a2c_now.new_orders(mark)
    assert len(orders) == 1 and "replaces" not in orders[0]
    assert host.current_cert(NAME) == before


def test_window_ahead_is_not_due_and_is_decided_without_the_network(host: Host,
                                                                    a2c_later: A2C) -> None:
    host.issue(NAME, a2c_later.directory_url)
    assert when(state(host)["window"]["start"]) > now() + datetime.timedelta(days=20)
    before = host.current_cert(NAME)
    mark = a2c_later.mark()

    result = host.renew()

    assert result.returncode == 0, result.stderr
    assert "not due for renewal yet" in result.stdout
    assert a2c_later.requests_since(mark) == []
    # With the CA gone, the decision is the same and nothing is complained about.
    set_conf(host, NAME, "server", closed_port_url())
    result = host.renew()
    assert result.returncode == 0, result.stderr
    assert "not due for renewal yet" in result.stdout
    assert "renewal information" not in result.stderr
    assert host.current_cert(NAME) == before


def test_retry_after_is_honoured(host: Host, a2c_later: A2C) -> None:
    host.issue(NAME, a2c_later.directory_url)
    cached = state(host)
    delay = when(cached["next_check"]) - when(cached["fetched"])
    assert abs(delay.total_seconds() - RETRY_AFTER) < 2

    make_stale(host)
    mark = a2c_later.mark()
    result = host.renew()
    assert result.returncode == 0, result.stderr
    seen = [(r["method"], r["path"]) for r in a2c_later.requests_since(mark)]
    # Only the renewalInfo GET: its URL was cached, so no directory fetch.
    assert seen == [("GET", f"/acme/renewal-info/{cached['cert_id']}")]
    refreshed = state(host)
    assert when(refreshed["next_check"]) > now() + datetime.timedelta(seconds=RETRY_AFTER - 60)

    mark = a2c_later.mark()
    assert host.renew().returncode == 0
    assert a2c_later.requests_since(mark) == []


def test_lineages_without_cache_share_one_directory_fetch(host: Host, a2c_later: A2C) -> None:
    names = ["one.ari.example.org", "two.ari.example.org"]
    for name in names:
        host.issue(name, a2c_later.directory_url)
        host.ari_file(name).unlink()  # as Certbot would have left them
    mark = a2c_later.mark()

    result = host.renew()

    assert result.returncode == 0, result.stderr
    seen = [(r["method"], r["path"]) for r in a2c_later.requests_since(mark)]
    assert seen.count(("GET", "/directory")) == 1
    assert sorted(p for m, p in seen if p.startswith("/acme/renewal-info/")) == sorted(
        f"/acme/renewal-info/{spec_cert_id(host.current_cert(n))}" for n in names)
    assert len(seen) == 3
    for name in names:
        assert state(host, name)["window"] is not None


def test_unreachable_ca_falls_back_and_backs_off(host: Host, a2c_later: A2C) -> None:
    host.issue(NAME, a2c_later.directory_url)
    window = state(host)["window"]
    make_stale(host)
    set_conf(host, NAME, "server", closed_port_url())

    result = host.renew()

    assert result.returncode == 0, result.stderr
    assert "not due for renewal yet" in result.stdout
    assert "Could not get renewal information" in result.stderr
    after = state(host)
    assert after["window"] == window
    backoff = when(after["next_check"]) - now()
    assert datetime.timedelta(minutes=50) < backoff <= datetime.timedelta(hours=1)
    # Backed off: the next run does not try again.
    again = host.renew()
    assert again.returncode == 0 and "renewal information" not in again.stderr


def test_explicit_renew_before_expiry_still_renews_inside_an_ari_window(
        host: Host, a2c_later: A2C) -> None:
    host.issue(NAME, a2c_later.directory_url)
    old_cert = host.current_cert(NAME)
    set_conf(host, NAME, "renew_before_expiry", "31 days")  # 30-day certs
    mark = a2c_later.mark()

    result = host.renew()

    assert result.returncode == 0, result.stderr
    assert [o.get("replaces") for o in a2c_later.new_orders(mark)] == [spec_cert_id(old_cert)]
    assert host.current_cert(NAME) != old_cert


def dns_hook(host: Host, pebble: Pebble) -> str:
    """A manual auth hook that publishes the TXT record in Pebble's DNS (challtestsrv)."""
    script = host.base / "set-txt.py"
    script.write_text(
        "import json, os, urllib.request\n"
        "body = json.dumps({'host': '_acme-challenge.' + os.environ['CERTBOT_DOMAIN'] + '.',"
        " 'value': os.environ['CERTBOT_VALIDATION']}).encode()\n"
        f"urllib.request.urlopen({pebble.challtestsrv_url + '/set-txt'!r}, body, timeout=5)\n")
    return f"{sys.executable} {script}"


def test_ca_without_ari_falls_back_to_renew_before_expiry(host: Host, pebble: Pebble) -> None:
    result = host.run("certonly", "--manual", "--manual-auth-hook", dns_hook(host, pebble),
                      "--preferred-challenges", "dns", "-d", NAME,
                      "--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle,
                      "--agree-tos", "-m", "ari@example.org")
    assert result.returncode == 0, result.stderr
    cached = state(host)
    assert cached["renewal_info_url"] is None and cached["window"] is None

    result = host.renew()
    assert result.returncode == 0, result.stderr
    assert "not due for renewal yet" in result.stdout

    before = host.current_cert(NAME)
    set_conf(host, NAME, "renew_before_expiry", "1900 days")
    result = host.renew()
    assert result.returncode == 0, result.stderr
    assert "Congratulations, all renewals succeeded" in result.stdout
    assert host.current_cert(NAME) != before

    # "No ARI here" is cached too: with the CA gone, the decision stays offline.
    set_conf(host, NAME, "renew_before_expiry", None)
    set_conf(host, NAME, "server", closed_port_url())
    result = host.renew()
    assert result.returncode == 0, result.stderr
    assert "not due for renewal yet" in result.stdout
    assert "renewal information" not in result.stderr
