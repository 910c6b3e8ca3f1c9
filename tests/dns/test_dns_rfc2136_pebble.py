"""A wildcard plus its apex issued by a real Pebble that resolves through a real BIND.

The DNS plugin runs as its own process (dns-rfc2136, via the plugin host);
Pebble validates dns-01 by asking BIND. Afterwards the TXT records are gone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from certkernel.ca.accounts import new_account_key
from certkernel.ca.acme_session import AcmeSession, SessionSettings
from certkernel.ca.issuance import Issuance
from certkernel.plugin_host.discovery import discover
from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.proxies import RemoteAuthenticator
from certkernel.plugin_host.services import KernelServices
from tests.infra.bind import Bind
from tests.infra.csr import make_key_and_csr
from tests.infra.pebble import Pebble


def test_wildcard_and_apex_issue_through_bind(bind: Bind, pebble_factory: Callable[..., Pebble],
                                              tmp_path: Path) -> None:
    pebble = pebble_factory(dns_server=f"127.0.0.1:{bind.port}")
    session = AcmeSession(SessionSettings(server=pebble.directory_url, verify=pebble.ca_bundle),
                          new_account_key("ecdsa"))
    session.register(emails=["admin@example.com"], agree_tos=True)
    names = ["*.example.com", "example.com"]
    _key, csr = make_key_and_csr(names)
    manifest = discover()["dns-rfc2136"]
    with start_plugin(manifest, KernelServices("dns-rfc2136").handle,
                      options={"propagation-seconds": 30}, secrets=bind.credentials(),
                      state_dir=str(tmp_path / "state")) as proc:
        auth = RemoteAuthenticator(proc)
        auth.prepare()
        issued = Issuance(session).issue(csr_pem=csr, authenticators={n: auth for n in names})
    cert = x509.load_pem_x509_certificate(issued.cert_pem.encode()
                                          if isinstance(issued.cert_pem, str) else issued.cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)
    assert bind.txt("_acme-challenge.example.com") == []
