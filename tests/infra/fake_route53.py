"""A local Route 53 (REST/XML API 2013-04-01), on loopback.

Serves ListHostedZones, ListResourceRecordSets, ChangeResourceRecordSets
(UPSERT/DELETE of TXT; DELETE must name the current set exactly, as AWS
requires) and GetChange (PENDING once, then INSYNC). Every request must be
signed with AWS Signature Version 4 for service ``route53``; the fake
recomputes the signature with the known secret, so a wrong secret is a 403
``SignatureDoesNotMatch`` and an unknown key id a 403
``InvalidClientTokenId``, as AWS answers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from tests.infra.httpd import Running, reply, request_body

NS = "https://route53.amazonaws.com/doc/2013-04-01/"
AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
                  r"route53/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
                  r"Signature=(?P<sig>[0-9a-f]{64})$")


def _h(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


@dataclass
class FakeRoute53:
    access_key: str = "AKIDFAKE"
    secret_key: str = "fake-secret"
    zones: dict[str, str] = field(default_factory=lambda: {"example.com": "Z1FAKE",
                                                           "example.com.internal": "Z2PRIV"})
    private: tuple[str, ...] = ("Z2PRIV",)
    rrsets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (zone id, name)
    changes: dict[str, int] = field(default_factory=dict)  # change id -> polls left before INSYNC
    violations: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    url: str = ""
    _server: Running | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def txt(self, fqdn: str) -> list[str]:
        values: list[str] = []
        for (_zid, name), rrset in self.rrsets.items():
            if name == fqdn.rstrip(".") + ".":
                values.extend(v.strip('"') for v in rrset["values"])
        return sorted(values)

    # -- signature ----------------------------------------------------------

    def check_signature(self, method: str, path: str, query: str, headers: dict[str, str],
                        body: bytes) -> tuple[int, str, str] | None:
        match = AUTH.match(headers.get("authorization", ""))
        amz_date = headers.get("x-amz-date", "")
        if match is None or not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
            self.violations.append(f"{method} {path}: no SigV4 Authorization/X-Amz-Date")
            return 403, "MissingAuthenticationToken", "Missing Authentication Token"
        if match["key"] != self.access_key:
            return 403, "InvalidClientTokenId", "The security token included in the request is invalid."
        signed = match["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            self.violations.append(f"SignedHeaders lacks host/x-amz-date: {signed}")
        pairs = sorted((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
                       for k, _, v in (p.partition("=") for p in query.split("&") if p))
        canonical = "\n".join([
            method, quote(path, safe="/~"), "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed),
            match["signed"], hashlib.sha256(body).hexdigest()])
        scope = f"{match['date']}/{match['region']}/route53/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        key = _h(_h(_h(_h(f"AWS4{self.secret_key}".encode(), match["date"]), match["region"]),
                    "route53"), "aws4_request")
        if not hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(),
                                   match["sig"]):
            return 403, "SignatureDoesNotMatch", ("The request signature we calculated does not "
                                                  "match the signature you provided.")
        return None

    # -- API ------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, str]:
        base = "/2013-04-01"
        self.calls.append(f"{method} {path}")
        if method == "GET" and path == f"{base}/hostedzone":
            items = "".join(
                f"<HostedZone><Id>/hostedzone/{zid}</Id><Name>{name}.</Name>"
                f"<CallerReference>ref-{zid}</CallerReference><Config><PrivateZone>"
                f"{'true' if zid in self.private else 'false'}</PrivateZone></Config>"
                f"<ResourceRecordSetCount>2</ResourceRecordSetCount></HostedZone>"
                for name, zid in sorted(self.zones.items()))
            return 200, (f'<ListHostedZonesResponse xmlns="{NS}"><HostedZones>{items}</HostedZones>'
                         f"<IsTruncated>false</IsTruncated><MaxItems>100</MaxItems>"
                         f"</ListHostedZonesResponse>")
        m = re.fullmatch(rf"{base}/hostedzone/(\w+)/rrset/?", path)
        if m and m[1] not in self.zones.values():
            return 404, _error("NoSuchHostedZone", f"No hosted zone found with ID: {m[1]}")
        if m and method == "GET":
            return 200, self._list(m[1], query)
        if m and method == "POST":
            return self._change(m[1], body)
        m = re.fullmatch(rf"{base}/change/(\w+)", path)
        if m and method == "GET":
            if m[1] not in self.changes:
                return 404, _error("NoSuchChange", f"Could not find resource with ID: {m[1]}")
            left = self.changes[m[1]]
            self.changes[m[1]] = max(0, left - 1)
            return 200, (f'<GetChangeResponse xmlns="{NS}"><ChangeInfo><Id>/change/{m[1]}</Id>'
                         f"<Status>{'PENDING' if left else 'INSYNC'}</Status>"
                         f"<SubmittedAt>2024-01-01T00:00:00Z</SubmittedAt></ChangeInfo>"
                         f"</GetChangeResponse>")
        self.violations.append(f"no route for {method} {path}")
        return 404, _error("NotFound", "no such operation")

    def _list(self, zid: str, query: dict[str, str]) -> str:
        start = query.get("name", "")
        found = sorted((name, rr) for (z, name), rr in self.rrsets.items()
                       if z == zid and name >= start)
        items = "".join(
            f"<ResourceRecordSet><Name>{name}</Name><Type>TXT</Type><TTL>{rr['ttl']}</TTL>"
            f"<ResourceRecords>{''.join(f'<ResourceRecord><Value>{v}</Value></ResourceRecord>' for v in rr['values'])}"
            f"</ResourceRecords></ResourceRecordSet>" for name, rr in found[:1])
        return (f'<ListResourceRecordSetsResponse xmlns="{NS}"><ResourceRecordSets>{items}'
                f"</ResourceRecordSets><IsTruncated>{'true' if len(found) > 1 else 'false'}"
                f"</IsTruncated><MaxItems>1</MaxItems></ListResourceRecordSetsResponse>")

    def _change(self, zid: str, body: bytes) -> tuple[int, str]:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            self.violations.append(f"ChangeResourceRecordSets body is not XML: {body[:200]!r}")
            return 400, _error("InvalidInput", "malformed XML")
        q = f"{{{NS}}}"
        if root.tag != f"{q}ChangeResourceRecordSetsRequest":
            self.violations.append(f"unexpected root element {root.tag}")
        changes = root.findall(f"{q}ChangeBatch/{q}Changes/{q}Change")
        if not changes:
            self.violations.append("ChangeBatch without Changes")
            return 400, _error("InvalidInput", "no changes")
        for change in changes:
            action = change.findtext(f"{q}Action")
            rrset = change.find(f"{q}ResourceRecordSet")
            name = (rrset.findtext(f"{q}Name") if rrset is not None else "") or ""
            rtype = rrset.findtext(f"{q}Type") if rrset is not None else ""
            ttl = rrset.findtext(f"{q}TTL") if rrset is not None else None
            values = [v.text or "" for v in rrset.iter(f"{q}Value")] if rrset is not None else []
            zone = next(n for n, i in self.zones.items() if i == zid)
            fqdn = name.rstrip(".") + "."
            if (action not in ("UPSERT", "DELETE") or rtype != "TXT" or not ttl or not values
                    or not (fqdn[:-1] == zone or fqdn[:-1].endswith("." + zone))
                    or not all(len(v) > 1 and v[0] == v[-1] == '"' for v in values)):
                self.violations.append(f"bad change {action} {name} {rtype} {ttl} {values}")
                return 400, _error("InvalidChangeBatch", "invalid change")
            with self._lock:
                if action == "DELETE":
                    current = self.rrsets.get((zid, fqdn))
                    if current is None or sorted(current["values"]) != sorted(values) \
                            or current["ttl"] != int(ttl):
                        return 400, _error("InvalidChangeBatch",
                                           f"Tried to delete resource record set [name='{fqdn}', "
                                           "type='TXT'] but the values provided do not match "
                                           "the current values")
                    del self.rrsets[(zid, fqdn)]
                else:
                    self.rrsets[(zid, fqdn)] = {"ttl": int(ttl), "values": values}
        change_id = f"C{len(self.changes) + 1:012d}"
        self.changes[change_id] = 1
        return 200, (f'<ChangeResourceRecordSetsResponse xmlns="{NS}"><ChangeInfo>'
                     f"<Id>/change/{change_id}</Id><Status>PENDING</Status>"
                     f"<SubmittedAt>2024-01-01T00:00:00Z</SubmittedAt></ChangeInfo>"
                     f"</ChangeResourceRecordSetsResponse>")

    # -- server ---------------------------------------------------------------

    def start(self) -> FakeRoute53:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                body = request_body(self)
                headers = {k.lower(): v for k, v in self.headers.items()}
                refused = fake.check_signature(self.command, parts.path, parts.query, headers, body)
                if refused is not None:
                    status, text = refused[0], _error(refused[1], refused[2], "Sender")
                else:
                    query = {unquote(k): unquote(v) for k, _, v in
                             (p.partition("=") for p in parts.query.split("&") if p)}
                    status, text = fake.handle(self.command, parts.path, query, body)
                reply(self, status, text.encode(), "text/xml",
                      {"x-amzn-RequestId": "00000000-0000-0000-0000-000000000000"})

            do_GET = do_POST = do_DELETE = _serve

        self._server = Running(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
        self.url = f"http://127.0.0.1:{self._server.port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def _error(code: str, message: str, kind: str = "Sender") -> str:
    return (f'<ErrorResponse xmlns="{NS}"><Error><Type>{kind}</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>0</RequestId></ErrorResponse>")
