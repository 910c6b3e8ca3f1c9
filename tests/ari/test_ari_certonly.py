"""``certonly`` for names an existing lineage already has: the CA's window decides.

What a user checks: re-running ``certonly -d NAME -n`` (no
``--force-renewal``) renews when ``renew`` would, i.e. when the CA's cached
renewal window (ARI) has begun, even though the certificate is far from
expiry; and keeps the certificate ("no action taken") when the window is
ahead, without a request to the CA. The CAs here issue 30-day certificates,
so by the expiry rule alone a fresh one is never due: a renewal can only
come from the window.
"""

from __future__ import annotations

import datetime
import json

from tests.ari.conftest import Host
from tests.infra.a2c import A2C

NAME = "certonly.ari.example.org"


def certonly(host: Host, server: str) -> tuple[int, str, str]:
    result = host.run("certonly", "--manual", "--manual-auth-hook", "true",
                      "--preferred-challenges", "http", "-d", NAME, "--server", server,
                      "--agree-tos", "-m", "ari@example.org")
    return result.returncode, result.stdout, result.stderr


def window_start(host: Host) -> datetime.datetime:
    data = json.loads(host.ari_file(NAME).read_text())
    return datetime.datetime.fromisoformat(data["window"]["start"])


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def versions(host: Host) -> list[str]:
    return sorted(p.name for p in host.archive(NAME).glob("cert*.pem"))


def test_window_begun_certonly_renews_the_same_names(host: Host, a2c_now: A2C) -> None:
    host.issue(NAME, a2c_now.directory_url)
    old_cert = host.current_cert(NAME)
    assert window_start(host) < now()
    mark = a2c_now.mark()

    code, out, err = certonly(host, a2c_now.directory_url)

    assert code == 0, err
    assert "no action taken" not in out
    assert "Successfully received certificate." in out
    assert len(a2c_now.new_orders(mark)) == 1
    assert host.current_cert(NAME) != old_cert
    assert versions(host) == ["cert1.pem", "cert2.pem"]  # the same lineage, renewed


def test_window_ahead_certonly_keeps_the_cert_offline(host: Host, a2c_later: A2C) -> None:
    host.issue(NAME, a2c_later.directory_url)
    before = host.current_cert(NAME)
    assert window_start(host) > now() + datetime.timedelta(days=20)
    mark = a2c_later.mark()

    code, out, err = certonly(host, a2c_later.directory_url)

    assert code == 0, err
    assert "Certificate not yet due for renewal; no action taken." in out
    assert a2c_later.requests_since(mark) == []
    assert host.current_cert(NAME) == before
    assert versions(host) == ["cert1.pem"]


def test_window_moved_into_the_past_makes_certonly_renew(host: Host, a2c_later: A2C) -> None:
    """The same lineage, kept while the window is ahead, renews once its cached window begins."""
    host.issue(NAME, a2c_later.directory_url)
    old_cert = host.current_cert(NAME)
    data = json.loads(host.ari_file(NAME).read_text())
    past = now() - datetime.timedelta(hours=2)
    data["window"] = {"start": (past - datetime.timedelta(hours=1)).isoformat(),
                      "end": past.isoformat()}
    host.ari_file(NAME).write_text(json.dumps(data))

    code, out, err = certonly(host, a2c_later.directory_url)

    assert code == 0, err
    assert "Successfully received certificate." in out
    assert host.current_cert(NAME) != old_cert
