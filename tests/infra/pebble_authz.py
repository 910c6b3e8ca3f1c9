"""Deactivate every valid authorization a host's accounts hold on one Pebble.

Why: a test that renews (or re-orders) names it already got a certificate for
expects each name to be proved again, so it can check where the proof came
from (a web root, a port, a plugin's perform). Pebble does not guarantee that:
the Debian build (2.4.0) hands a new order the account's still-valid
authorization for about 1 in 100 identifiers even with ``PEBBLE_AUTHZREUSE=0``
(measured: 19 of 2000 orders), and an ACME client rightly skips a valid
authorization. Calling :func:`forget_authorizations` after the set-up orders
turns "usually fresh" into "always fresh" the way a client could: with the
account's own key, through RFC 8555 §7.5.2 deactivation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from tests.infra.pebble import Pebble

MAX_ORDER_PAGES = 100  # Pebble pages an account's orders a few at a time
TIMEOUT = 30  # seconds per request


def _account_dirs(config_dir: Path, pebble: Pebble) -> list[Path]:
    """The accounts stored for ``pebble`` (Certbot's layout: accounts/<host:port>/dir/<id>)."""
    base = config_dir / "accounts" / f"127.0.0.1:{pebble.acme_port}" / "dir"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


class _Account:
    """POST-as-GET and deactivation signed with one stored account's key."""

    def __init__(self, account_dir: Path, pebble: Pebble) -> None:
        import josepy as jose
        from acme import client, messages

        from certkernel.ca.acme_network import jws_algorithm

        key = jose.jwk.JWK.json_loads((account_dir / "private_key.json").read_text())
        self.uri: str = json.loads((account_dir / "regr.json").read_text())["uri"]
        regr = messages.RegistrationResource(uri=self.uri, body=messages.Registration())
        # verify_ssl is requests' ``verify``, which also takes a CA bundle path.
        self.net = client.ClientNetwork(key, account=regr, alg=jws_algorithm(key),
                                        verify_ssl=pebble.ca_bundle,  # type: ignore[arg-type]
                                        user_agent="certkernel-tests", timeout=TIMEOUT)
        self.net.session.trust_env = False  # no proxy, no REQUESTS_CA_BUNDLE from the env
        self.new_nonce: str = client.ClientV2.get_directory(
            pebble.directory_url, self.net)["newNonce"]

    def post(self, url: str, body: Any = None) -> requests.Response:
        """POST ``body`` (None: POST-as-GET); return the response."""
        return self.net.post(url, body, new_nonce_url=self.new_nonce)

    def order_urls(self) -> list[str]:
        """Every order of the account, following the list's ``next`` links (bounded)."""
        url: str | None = self.post(self.uri).json()["orders"]
        found: list[str] = []
        for _ in range(MAX_ORDER_PAGES):
            if url is None:
                return found
            page = self.post(url)
            found += page.json().get("orders") or []
            url = page.links.get("next", {}).get("url")
        raise RuntimeError(f"more than {MAX_ORDER_PAGES} pages of orders at {self.uri}")

    def deactivate_valid(self) -> int:
        """Deactivate each valid authorization of every order; return how many."""
        from acme import messages

        authzs = {a for order in self.order_urls()
                  for a in self.post(order).json().get("authorizations") or []}
        count = 0
        for authz in sorted(authzs):
            if self.post(authz).json().get("status") == "valid":
                self.post(authz, messages.UpdateAuthorization(status=messages.STATUS_DEACTIVATED))
                count += 1
        return count


def forget_authorizations(config_dir: Path, pebble: Pebble) -> int:
    """Deactivate the valid authorizations of every account under ``config_dir`` on ``pebble``.

    Returns how many were deactivated, so a caller can check its set-up
    orders were found at all.
    """
    return sum(_Account(d, pebble).deactivate_valid() for d in _account_dirs(config_dir, pebble))
