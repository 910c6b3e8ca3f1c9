"""A local Google OAuth2 token endpoint and Cloud DNS API v1, on loopback.

The token endpoint takes the JWT-bearer grant (RFC 7523) as a form post,
checks the RS256 signature with the service account's public key and the
claims (iss, scope, aud = this endpoint, iat/exp), and hands out a random
access token; the DNS API wants that token as ``Authorization: Bearer``.
Served: ``managedZones?dnsName=``, ``rrsets?name=&type=``, ``changes`` (POST,
additions/deletions, deletions must equal the current set) and
``changes/{id}`` (``pending`` once, then ``done``).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.infra.fakeapi import FakeApi, Reply, Request

SCOPE = "https://www.googleapis.com/auth/ndev.clouddns.readwrite"
PROJECT = "acme-dns-123"
EMAIL = f"certbot@{PROJECT}.iam.gserviceaccount.com"


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeGoogle:
    """``api`` serves both the token endpoint (``/token``) and the DNS API (``/dns/v1``)."""

    def __init__(self, zone: str = "example.com") -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.tokens: set[str] = set()
        self.rrsets: dict[tuple[str, str], dict[str, Any]] = {}  # (managed zone, name.) -> rrset
        self.changes: dict[str, int] = {}
        self.grants = 0
        self.api = FakeApi({"example-com": zone + ".", "private-example": "internal." + zone + "."},
                           self._bearer_ok,
                           (401, {"error": {"code": 401, "message": "Request had invalid "
                                            "authentication credentials.", "status":
                                            "UNAUTHENTICATED"}}),
                           public=(("POST", "/token"),))
        self._routes()

    # -- helpers for tests ----------------------------------------------------

    def start(self) -> FakeGoogle:
        self.api.start()
        return self

    def stop(self) -> None:
        self.api.stop()

    @property
    def dns_url(self) -> str:
        return self.api.url + "/dns/v1"

    def key_file(self, path: Path, key: rsa.RSAPrivateKey | None = None, **override: Any) -> Path:
        pem = (key or self.key).private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()
        data = {"type": "service_account", "project_id": PROJECT, "private_key_id": "k1",
                "private_key": pem, "client_email": EMAIL, "client_id": "1",
                "token_uri": self.api.url + "/token", **override}
        path.write_text(json.dumps({k: v for k, v in data.items() if v is not None}))
        path.chmod(0o600)
        return path

    def txt(self, fqdn: str) -> list[str]:
        found = [v.strip('"') for (_z, name), rr in self.rrsets.items()
                 if name == fqdn + "." for v in rr["rrdatas"]]
        return sorted(found)

    # -- behaviour ------------------------------------------------------------

    def _bearer_ok(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def _grant(self, req: Request, m: Any) -> Reply:
        form = {k: v[0] for k, v in parse_qs(req.raw_body).items()}
        bad = (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            self.api.violations.append(f"token request without the JWT-bearer grant: {form}")
            return 400, {"error": "unsupported_grant_type"}
        try:
            head, body, sig = form.get("assertion", "").split(".")
            header, claims = json.loads(_unb64(head)), json.loads(_unb64(body))
            self.key.public_key().verify(_unb64(sig), f"{head}.{body}".encode(),
                                         padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, InvalidSignature):
            return bad
        now = time.time()
        ok = (header.get("alg") == "RS256" and claims.get("iss") == EMAIL
              and claims.get("scope") == SCOPE and claims.get("aud") == self.api.url + "/token"
              and abs(claims.get("iat", 0) - now) < 300 and 0 < claims.get("exp", 0) - now <= 3600)
        self.api.check(ok, f"bad JWT header/claims: {header} {claims}")
        if not ok:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT claims."}
        token = "ya29." + secrets.token_urlsafe(24)
        self.tokens.add(token)
        self.grants += 1
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _routes(self) -> None:
        api, base = self.api, rf"/dns/v1/projects/{PROJECT}/managedZones"
        api.route("POST", r"/token")(self._grant)

        @api.route("GET", base)
        def zones(req: Request, m: Any) -> Reply:
            wanted = req.query.get("dnsName")
            found = [{"kind": "dns#managedZone", "name": n, "dnsName": d, "id": str(i),
                      "visibility": "private" if n.startswith("private") else "public"}
                     for i, (n, d) in enumerate(api.zones.items()) if wanted in (None, d)]
            return 200, {"kind": "dns#managedZonesListResponse", "managedZones": found}

        @api.route("GET", base + r"/([\w-]+)/rrsets")
        def rrsets(req: Request, m: Any) -> Reply:
            found = [rr for (z, name), rr in self.rrsets.items() if z == m[1]
                     and req.query.get("name") in (None, name) and req.query.get("type") in
                     (None, rr["type"])]
            return 200, {"kind": "dns#resourceRecordSetsListResponse", "rrsets": found}

        @api.route("POST", base + r"/([\w-]+)/changes")
        def change(req: Request, m: Any) -> Reply:
            body = req.body if isinstance(req.body, dict) else {}
            adds, dels = body.get("additions", []), body.get("deletions", [])
            zone = api.zones.get(m[1], "")
            ok = (bool(zone) and (adds or dels) and all(
                isinstance(rr, dict) and rr.get("type") == "TXT" and isinstance(rr.get("ttl"), int)
                and str(rr.get("name", "")).endswith("." + zone)
                and rr.get("rrdatas") and all(v[:1] == v[-1:] == '"' for v in rr["rrdatas"])
                for rr in [*adds, *dels]))
            api.check(ok, f"bad change: {body!r}")
            if not ok:
                return 400, {"error": {"code": 400, "message": "Invalid change"}}
            for rr in dels:
                current = self.rrsets.get((m[1], rr["name"]))
                if current is None or sorted(current["rrdatas"]) != sorted(rr["rrdatas"]):
                    return 412, {"error": {"code": 412, "message": "Precondition not met for "
                                           f"'entity.change.deletions[{rr['name']}][TXT]'"}}
            for rr in dels:
                del self.rrsets[(m[1], rr["name"])]
            for rr in adds:
                self.rrsets[(m[1], rr["name"])] = {"kind": "dns#resourceRecordSet",
                                                   **{k: rr[k] for k in ("name", "type", "ttl",
                                                                         "rrdatas")}}
            cid = str(len(self.changes) + 1)
            self.changes[cid] = 1
            return 200, {"kind": "dns#change", "id": cid, "status": "pending", **body}

        @api.route("GET", base + r"/([\w-]+)/changes/(\d+)")
        def get_change(req: Request, m: Any) -> Reply:
            if m[2] not in self.changes:
                return 404, {"error": {"code": 404, "message": "change not found"}}
            left = self.changes[m[2]]
            self.changes[m[2]] = max(0, left - 1)
            return 200, {"kind": "dns#change", "id": m[2], "status": "pending" if left else "done"}
