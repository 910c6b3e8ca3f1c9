"""Google Cloud DNS (REST API v1) with a service-account key, written here on purpose.

The rule is to build providers on dns-lexicon, but lexicon's
``googleclouddns`` provider hard-codes both Google's token URL and its API
host, so it can neither be pointed at a compatible endpoint nor be tested
against a local fake. This client is small: an OAuth2 JWT-bearer grant
(RS256, signed with the key from the JSON file, sent to the file's
``token_uri``), ``managedZones`` lookup by ``dnsName``, and ``changes``
that replace a TXT record set whole (deletion of the old set + addition of
the new one, atomic on Google's side), each awaited until ``done``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from certkernel.plugins.dns.lookup import Nameserver, PublicLookup
from certkernel.plugins.dns.names import zone_candidates
from certkernel.sdk import PluginError

log = logging.getLogger(__name__)

API_URL = "https://dns.googleapis.com/dns/v1"
TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/ndev.clouddns.readwrite"
TTL = 60
REQUIRED = ("type", "project_id", "private_key", "client_email")


@dataclass(frozen=True)
class ServiceAccount:
    """The parts of a service-account key file we use (never logged)."""

    project_id: str
    client_email: str
    private_key: str
    private_key_id: str
    token_uri: str


def load_service_account(path: str, text: str | None = None) -> ServiceAccount:
    """Check the JSON key file (``text``: its content, read by the kernel); one message per problem."""
    where = f"dns-google: --dns-google-credentials {path}"
    file = Path(os.path.expanduser(path))
    try:
        mode = 0 if text is not None else file.stat().st_mode  # the kernel warned already
        data = json.loads(text if text is not None else file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PluginError(f"{where}: no such file") from None
    except OSError as exc:
        raise PluginError(f"{where}: cannot read it: {exc.strerror}") from None
    except ValueError as exc:
        raise PluginError(f"{where}: not a JSON service-account key ({exc})") from None
    if not isinstance(data, dict):
        raise PluginError(f"{where}: not a JSON service-account key")
    missing = [k for k in REQUIRED if not str(data.get(k) or "").strip()]
    if missing:
        raise PluginError(f"{where}: missing keys: {', '.join(missing)} (download a JSON key "
                          "for a service account with the DNS Administrator role)")
    if data["type"] != "service_account":
        raise PluginError(f"{where}: type is {data['type']!r}, not 'service_account'")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is accessible by other users; chmod 600 it", path)
    return ServiceAccount(data["project_id"], data["client_email"], data["private_key"],
                          str(data.get("private_key_id") or ""),
                          str(data.get("token_uri") or TOKEN_URI))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_jwt(account: ServiceAccount, now: int) -> str:
    """The RS256 assertion of RFC 7523 that Google's token endpoint exchanges."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = serialization.load_pem_private_key(account.private_key.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise PluginError(f"dns-google: the private_key in the credentials file is not a usable "
                          f"PEM key ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PluginError("dns-google: the private_key in the credentials file is not an RSA key")
    header = {"alg": "RS256", "typ": "JWT", **({"kid": account.private_key_id}
                                              if account.private_key_id else {})}
    claims = {"iss": account.client_email, "scope": SCOPE, "aud": account.token_uri,
              "iat": now, "exp": now + 3600}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


class GoogleBackend(PublicLookup):
    """One project; a bearer token fetched on first use and reused until near expiry."""

    provider = "google"

    def __init__(self, account: ServiceAccount, api_url: str = "", change_wait: float = 120.0,
                 resolvers: list[Nameserver] | None = None) -> None:
        self.account = account
        self.api = (api_url or API_URL).rstrip("/") + f"/projects/{account.project_id}"
        self._http = requests.Session()
        self._token = ""
        self._token_until = 0.0
        self._zones: dict[str, str] = {}  # zone name (dns) -> managed zone name
        self._change_wait = change_wait
        super().__init__(resolvers)

    # -- RecordBackend ----------------------------------------------------

    def find_zone(self, fqdn: str) -> str:
        tried: list[str] = []
        for candidate in zone_candidates(fqdn, min_labels=2):
            if candidate in self._zones:
                return candidate
            tried.append(candidate)
            answer = self._call("GET", "/managedZones", f"look up zone {candidate}",
                                params={"dnsName": candidate + "."})
            for zone in answer.get("managedZones", []):
                if zone.get("visibility", "public") == "public" and \
                        zone.get("dnsName", "").rstrip(".").lower() == candidate:
                    self._zones[candidate] = zone["name"]
                    return candidate
        raise PluginError(f"dns-google: none of {', '.join(tried)} is a public managed zone in "
                          f"project {self.account.project_id}")

    def add_txt(self, zone: str, fqdn: str, value: str) -> None:
        old = self._rrset(zone, fqdn)
        values = list(old["rrdatas"]) if old else []
        if _quote(value) in values:
            return
        new = {"kind": "dns#resourceRecordSet", "name": fqdn + ".", "type": "TXT",
               "ttl": int(old["ttl"]) if old else TTL, "rrdatas": [*values, _quote(value)]}
        self._change(zone, [new], [old] if old else [], f"add TXT {fqdn}")

    def remove_txt(self, zone: str, fqdn: str, value: str) -> None:
        old = self._rrset(zone, fqdn)
        if not old or _quote(value) not in old["rrdatas"]:
            return
        rest = [v for v in old["rrdatas"] if v != _quote(value)]
        additions = [{**old, "rrdatas": rest}] if rest else []
        self._change(zone, additions, [old], f"remove TXT {fqdn}")

    # -- internals --------------------------------------------------------

    def _rrset(self, zone: str, fqdn: str) -> dict[str, Any] | None:
        answer = self._call("GET", f"/managedZones/{self._zones[zone]}/rrsets", f"read TXT {fqdn}",
                            params={"name": fqdn + ".", "type": "TXT"})
        for rrset in answer.get("rrsets", []):
            if rrset.get("name", "").rstrip(".").lower() == fqdn and rrset.get("type") == "TXT":
                return {k: rrset[k] for k in ("kind", "name", "type", "ttl", "rrdatas") if k in rrset}
        return None

    def _change(self, zone: str, additions: list[dict[str, Any]],
                deletions: list[dict[str, Any]], what: str) -> None:
        body: dict[str, Any] = {"kind": "dns#change"}
        if additions:
            body["additions"] = additions
        if deletions:
            body["deletions"] = deletions
        path = f"/managedZones/{self._zones[zone]}/changes"
        change = self._call("POST", path, what, body=body)
        deadline = time.monotonic() + self._change_wait
        delay = 0.2
        while change.get("status") != "done":
            if time.monotonic() + delay > deadline:
                raise PluginError(f"dns-google: {what}: change {change.get('id')} still "
                                  f"{change.get('status')} after {self._change_wait:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            change = self._call("GET", f"{path}/{change['id']}", what)

    def _bearer(self) -> str:
        if self._token and time.time() < self._token_until:
            return self._token
        assertion = signed_jwt(self.account, int(time.time()))
        try:
            reply = self._http.post(self.account.token_uri, timeout=30, data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion})
        except requests.RequestException as exc:
            raise PluginError(f"dns-google: cannot reach the token endpoint "
                              f"{self.account.token_uri}: {exc}") from exc
        if reply.status_code != 200:
            raise PluginError(f"dns-google: Google rejected the service-account credentials "
                              f"(HTTP {reply.status_code}: {_reason(reply)}); check the file given "
                              "to --dns-google-credentials")
        data = reply.json()
        self._token = str(data["access_token"])
        self._token_until = time.time() + max(0, int(data.get("expires_in", 3600)) - 60)
        return self._token

    def _call(self, method: str, path: str, what: str, params: dict[str, str] | None = None,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
        token = self._bearer()
        try:
            reply = self._http.request(method, self.api + path, params=params, json=body,
                                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
        except requests.RequestException as exc:
            raise PluginError(f"dns-google: cannot reach the Cloud DNS API: {exc}") from exc
        if reply.status_code in (401, 403):
            raise PluginError(f"dns-google: the Cloud DNS API refused to {what} (HTTP "
                              f"{reply.status_code}: {_reason(reply)}); the service account "
                              "needs the DNS Administrator role on project "
                              f"{self.account.project_id}")
        if reply.status_code >= 300:
            raise PluginError(f"dns-google: {what} failed (HTTP {reply.status_code}: "
                              f"{_reason(reply)})")
        result: dict[str, Any] = reply.json() if reply.content else {}
        return result


def _reason(reply: requests.Response) -> str:
    """Google's one-line reason from either error shape (OAuth or API), else the status text."""
    try:
        data = reply.json()
    except ValueError:
        return reply.reason or "no details"
    if isinstance(data.get("error"), dict):
        return str(data["error"].get("message") or reply.reason)
    return str(data.get("error_description") or data.get("error") or reply.reason)


def _quote(value: str) -> str:
    return f'"{value}"'
