"""A config dir laid out by hand the way Certbot writes it is read as it is.

The renewal confs below follow Certbot's documented format and what Certbot
1.x/2.x actually writes (every value a string, one-item lists with a trailing
comma, ``[[webroot_map]]``, ``installer = None``, an RSA key in traditional
``BEGIN RSA PRIVATE KEY`` form, relative links written by Certbot).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certkernel import crypto
from certkernel.lineages import lineage_find
from certkernel.lineages.storage import Lineage
from tests.infra.minica import MiniCA
from tests.storage.checks import assert_live_set_ok

WEBROOT_CONF = """\
# renew_before_expiry = 30 days
version = 1.7.0
archive_dir = {d}/archive/example.com
cert = {d}/live/example.com/cert.pem
privkey = {d}/live/example.com/privkey.pem
chain = {d}/live/example.com/chain.pem
fullchain = {d}/live/example.com/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = 3f1c2b5e8d0a47c6b9e2f1a0d3c4b5a6
authenticator = webroot
webroot_path = /var/www/html,
server = https://acme-v02.api.letsencrypt.org/directory
installer = None
rsa_key_size = 4096
key_type = rsa
must_staple = False
post_hook = systemctl reload nginx
[[webroot_map]]
example.com = /var/www/html
www.example.com = /var/www/html
"""

MANUAL_CONF = """\
renew_before_expiry = 14 days
version = 2.11.0
archive_dir = {d}/archive/wild.example.org
cert = {d}/live/wild.example.org/cert.pem
privkey = {d}/live/wild.example.org/privkey.pem
chain = {d}/live/wild.example.org/chain.pem
fullchain = {d}/live/wild.example.org/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = 0a1b2c3d4e5f60718293a4b5c6d7e8f9
pref_challs = dns-01,
authenticator = manual
manual_auth_hook = /usr/local/bin/auth.sh
manual_cleanup_hook = /usr/local/bin/cleanup.sh
manual_public_ip_logging_ok = True
server = https://acme-v02.api.letsencrypt.org/directory
key_type = ecdsa
elliptic_curve = secp384r1
"""


def _rsa_traditional() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _certbot_lineage(d: Path, name: str, conf: str, sets: list[tuple[bytes, bytes, bytes, bytes]]) -> None:
    """Write archive/, live/ (relative links to the last set) and renewal/ by hand."""
    for top in ("archive", "live", "renewal"):
        (d / top).mkdir(mode=0o700, exist_ok=True)
    (d / "archive" / name).mkdir()
    (d / "live" / name).mkdir()
    for n, (cert, chain, fullchain, key) in enumerate(sets, start=1):
        for kind, data in (("cert", cert), ("chain", chain), ("fullchain", fullchain), ("privkey", key)):
            (d / "archive" / name / f"{kind}{n}.pem").write_bytes(data)
        os.chmod(d / "archive" / name / f"privkey{n}.pem", 0o600)
    last = len(sets)
    for kind in ("cert", "chain", "fullchain", "privkey"):
        os.symlink(f"../../archive/{name}/{kind}{last}.pem", d / "live" / name / f"{kind}.pem")
    (d / "live" / name / "README").write_text("This directory contains your keys and certificates.\n")
    (d / "renewal" / f"{name}.conf").write_text(conf.format(d=d))


def test_certbot_config_dir_is_listed_and_used(tmp_path: Path, ca: MiniCA) -> None:
    d = tmp_path
    k1, k2 = _rsa_traditional(), _rsa_traditional()
    s1 = ca.issue(["example.com", "www.example.com"], key=k1)
    s2 = ca.issue(["example.com", "www.example.com"], key=k2, days=60)
    _certbot_lineage(d, "example.com", WEBROOT_CONF,
                     [(s.cert, s.chain, s.fullchain, k) for s, k in ((s1, k1), (s2, k2))])
    w = ca.issue(["*.wild.example.org", "wild.example.org"], key=crypto.make_key(crypto.KeySpec("ecdsa", "secp384r1")))
    _certbot_lineage(d, "wild.example.org", MANUAL_CONF, [(w.cert, w.chain, w.fullchain, w.key)])
    (d / "accounts").mkdir()
    (d / "renewal-hooks" / "deploy").mkdir(parents=True)

    result = lineage_find.scan(str(d))
    assert result.errors == []
    by_name = {lin.name: lin for lin in result.lineages}
    assert sorted(by_name) == ["example.com", "wild.example.org"]

    web = by_name["example.com"]
    assert web.version == 2 and not web.repaired
    assert web.names == ["example.com", "www.example.com"]
    assert web.not_after - web.not_before == datetime.timedelta(days=60)
    assert web.key_type == "rsa"
    p = web.renewalparams
    assert p.get_str("authenticator") == "webroot"
    assert p.get_str("installer") is None
    assert p.as_dict()["webroot_path"] == ["/var/www/html"]
    assert p.as_dict()["webroot_map"] == {"example.com": "/var/www/html", "www.example.com": "/var/www/html"}
    assert p.as_dict()["rsa_key_size"] == "4096"
    assert p.get_bool("must_staple") is False
    assert p.get_str("post_hook") == "systemctl reload nginx"
    assert web.conf.version == "1.7.0"
    assert web.conf.renew_before_expiry is None  # only Certbot's comment
    assert web.conf.autorenew

    wild = by_name["wild.example.org"]
    assert wild.names == ["*.wild.example.org", "wild.example.org"]
    assert wild.conf.renew_before_expiry_interval() == datetime.timedelta(days=14)
    assert wild.renewalparams.as_dict()["pref_challs"] == ["dns-01"]
    assert wild.renewalparams.get_bool("manual_public_ip_logging_ok") is True
    assert wild.key_type == "ecdsa"

    found = lineage_find.find_by_names(str(d), ["example.com", "www.example.com"])
    assert [x.name for x in found.exact] == ["example.com"]

    # Renewing the Certbot lineage with certkernel keeps Certbot's layout.
    s3 = ca.issue(["example.com", "www.example.com"], key=k2)
    assert web.save_new_version(s3.cert, s3.chain, s3.fullchain, None, web.renewalparams.as_dict()) == 3
    assert_live_set_ok(str(d), "example.com", 3)
    text = (d / "renewal" / "example.com.conf").read_text()
    assert text.startswith("# renew_before_expiry = 30 days\n")
    assert "webroot_path = /var/www/html,\n" in text
    assert "[[webroot_map]]\nexample.com = /var/www/html\n" in text
    again = Lineage.load(str(d), "example.com")
    assert again.renewalparams.as_dict() == web.renewalparams.as_dict()
    assert again.read("privkey") == k2
