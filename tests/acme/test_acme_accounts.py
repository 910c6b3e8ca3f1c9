"""Accounts: Certbot's on-disk layout, registration, EAB, update and deactivation."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certkernel import errors
from certkernel.ca.accounts import Account, AccountMeta, AccountStore, new_account_key
from certkernel.ca.acme_session import AcmeSession
from certkernel.ca.issuance import Issuance
from tests.acme.conftest import settings_for
from tests.acme.helpers import DnsAuthenticator
from tests.infra.csr import make_key_and_csr
from tests.infra.pebble import Pebble

EAB_KID = "kid-1"
EAB_KEY = base64.urlsafe_b64encode(b"0123456789abcdef0123456789abcdef").decode().rstrip("=")


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_account_round_trip_on_disk(tmp_path: Path, pebble: Pebble) -> None:
    key = new_account_key("rsa")
    session = AcmeSession(settings_for(pebble), key)
    info = session.register(emails=["a@example.com", "b@example.com"], agree_tos=True)
    assert info.contacts == ("mailto:a@example.com", "mailto:b@example.com")
    store = AccountStore(tmp_path, pebble.directory_url)
    account = Account(key=key, uri=info.uri, meta=AccountMeta.now())
    directory = store.save(account)

    port = pebble.directory_url.split(":")[2].split("/")[0]
    assert directory == tmp_path / "accounts" / f"127.0.0.1:{port}" / "dir" / account.id
    assert stat.S_IMODE(os.stat(directory / "private_key.json").st_mode) == 0o400
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert json.loads((directory / "regr.json").read_text()) == {"body": {}, "uri": info.uri}
    assert "private" not in repr(account) and "JWK" not in repr(account)

    loaded = store.load(account.id)
    assert loaded.uri == info.uri and loaded.key == key and loaded.meta == account.meta
    store.save(loaded)  # re-saving over a 0400 key works
    assert [a.id for a in store.list()] == [account.id]
    store.delete(account.id)
    assert store.list() == []
    with pytest.raises(errors.AccountNotFound):
        store.load(account.id)


def test_handwritten_certbot_account_dir_loads_and_issues(tmp_path: Path, pebble: Pebble) -> None:
    """An account dir in Certbot's documented format (old regr style) is found and works."""
    private = rsa.generate_private_key(65537, 2048)
    numbers = private.private_numbers()
    pub = numbers.public_numbers
    jwk = {"n": _b64(pub.n), "e": _b64(pub.e), "d": _b64(numbers.d), "p": _b64(numbers.p),
           "q": _b64(numbers.q), "dp": _b64(numbers.dmp1), "dq": _b64(numbers.dmq1),
           "qi": _b64(numbers.iqmp), "kty": "RSA"}
    # Certbot's id: md5 over the PEM SubjectPublicKeyInfo of the account key.
    acc_id = hashlib.md5(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
    # Register that key with the CA the way Certbot would have done long ago.
    import josepy as jose  # the account key as Certbot stored it

    uri = AcmeSession(settings_for(pebble), jose.JWK.from_json(jwk)).register(
        agree_tos=True).uri
    host_port = pebble.directory_url.split("//")[1].split("/")[0]
    directory = tmp_path / "accounts" / host_port / "dir" / acc_id
    directory.mkdir(parents=True)
    (directory / "private_key.json").write_text(json.dumps(jwk))
    os.chmod(directory / "private_key.json", 0o400)
    (directory / "meta.json").write_text(json.dumps(
        {"creation_dt": "2020-06-10T12:34:56Z", "creation_host": "old.example.org"}))
    (directory / "regr.json").write_text(json.dumps(
        {"body": {"contact": ["mailto:old@example.org"], "key": {"kty": "RSA", "n": jwk["n"],
                                                                 "e": jwk["e"]}},
         "uri": uri, "new_authzr_uri": "https://old/acme/new-authz",
         "terms_of_service": "https://old/tos"}))
    (tmp_path / "accounts" / host_port / "dir" / "garbage").mkdir()  # broken: skipped

    accounts = AccountStore(tmp_path, pebble.directory_url).list()
    assert [a.id for a in accounts] == [acc_id]
    account = accounts[0]
    assert account.uri == uri
    assert account.slug == f"2020-06-10T12:34:56Z@old.example.org ({acc_id[:4]})"

    session = AcmeSession(settings_for(pebble), account.key, account_uri=account.uri)
    _, csr = make_key_and_csr(["certbot-old.example.com"])
    result = Issuance(session).issue(
        csr_pem=csr, authenticators={"certbot-old.example.com": DnsAuthenticator(pebble)})
    assert "BEGIN CERTIFICATE" in result.cert_pem


def test_corrupt_account_is_reported_clearly(tmp_path: Path) -> None:
    store = AccountStore(tmp_path, "https://acme.example/directory")
    directory = store.root / "abc"
    directory.mkdir(parents=True)
    (directory / "regr.json").write_text("{not json")
    with pytest.raises(errors.StorageError, match=r"account abc in .* is unreadable"):
        store.load("abc")


def test_register_twice_returns_the_same_account(pebble: Pebble) -> None:
    key = new_account_key("ecdsa")
    first = AcmeSession(settings_for(pebble), key).register(agree_tos=True)
    second = AcmeSession(settings_for(pebble), key).register(agree_tos=True)
    assert first.uri == second.uri


def test_update_contacts_and_deactivate(pebble: Pebble,
                                        session_factory: Callable[..., AcmeSession]) -> None:
    session = session_factory(pebble)
    assert session.update_contacts(["new@example.com"]).contacts == ("mailto:new@example.com",)
    assert session.query_account().contacts == ("mailto:new@example.com",)
    assert session.deactivate_account().status == "deactivated"
    _, csr = make_key_and_csr(["after-deactivate.example.com"])
    with pytest.raises(errors.CAError, match="urn:ietf:params:acme:error:unauthorized"):
        session.new_order(csr)


def test_eab_registration(pebble_factory: Callable[..., Pebble]) -> None:
    eab_pebble = pebble_factory(eab_keys={EAB_KID: EAB_KEY})
    session = AcmeSession(settings_for(eab_pebble), new_account_key("ecdsa"))
    assert session.external_account_required
    with pytest.raises(errors.AccountError, match="--eab-kid and --eab-hmac-key"):
        session.register(agree_tos=True)
    info = session.register(agree_tos=True, eab_kid=EAB_KID, eab_hmac_key=EAB_KEY)
    assert info.status == "valid" and info.uri

    wrong = base64.urlsafe_b64encode(b"x" * 32).decode().rstrip("=")
    other = AcmeSession(settings_for(eab_pebble), new_account_key("ecdsa"))
    with pytest.raises(errors.AccountError) as bad:
        other.register(agree_tos=True, eab_kid=EAB_KID, eab_hmac_key=wrong)
    message = str(bad.value)
    assert message.startswith("Could not register an account: urn:ietf:params:acme:error:")
    assert "\n" not in message
    with pytest.raises(errors.AccountError, match="not valid base64url"):
        other.register(agree_tos=True, eab_kid=EAB_KID, eab_hmac_key="!!!not base64!!!")
    with pytest.raises(errors.AccountError, match="must be given together"):
        other.register(agree_tos=True, eab_kid=EAB_KID)
