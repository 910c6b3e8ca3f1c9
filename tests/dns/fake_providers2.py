"""Fakes of four more provider APIs, after their public documentation.

- DNSimple API v2: ``GET /accounts`` (which accounts the Bearer token sees),
  ``/{account}/domains?name_like=``, ``/{account}/zones/{zone}/records``;
  answers wrapped in ``{"data": ...}``; record names relative ("" = apex).
- DNS Made Easy API v2.0: ``x-dnsme-apiKey``, ``x-dnsme-requestDate`` (HTTP
  date, a few minutes of skew at most) and ``x-dnsme-hmac`` (hex HMAC-SHA1
  of the date under the secret key); ``/dns/managed/name?domainname=``,
  ``/dns/managed/{id}/records``; TXT values come back double-quoted.
- Linode API v4: Bearer token, ``GET /domains`` filtered by an ``X-Filter``
  JSON header, ``/domains/{id}/records`` with ``name`` (relative),
  ``type``, ``target``, ``ttl_sec``; paged ``{data, page, pages, results}``.
- NS1 API v1: ``X-NSONE-Key``; ``/zones/{zone}``; one record set per
  ``/zones/{zone}/{domain}/{type}`` with ``answers: [{answer: [..]}]``, PUT
  creates, POST updates, DELETE removes.
"""

from __future__ import annotations

import functools
import hmac
import json
import time
from email.utils import parsedate_to_datetime
from hashlib import sha1
from typing import Any

from tests.infra.fakeapi import FakeApi, Record, Reply, Request, bearer


def _relative(fqdn: str, zone: str) -> str:
    return "" if fqdn == zone else fqdn[: -len(zone) - 1]


def _absolute(name: str, zone: str) -> str:
    return f"{name}.{zone}" if name else zone


def _in_zone(api: FakeApi, zone: str) -> list[Record]:
    return [r for r in api.records.values() if r.name == zone or r.name.endswith("." + zone)]


def dnsimple(token: str = "dnsimple-token", zone: str = "example.com") -> FakeApi:
    account = "1385"
    api = FakeApi({zone: "4711"}, bearer(token), (401, {"message": "Authentication failed"}))

    def json_body(req: Request) -> bool:
        ok = req.headers.get("content-type", "").startswith("application/json")
        api.check(ok, f"{req.method} {req.path} without Content-Type: application/json")
        return ok

    def shape(r: Record, z: str) -> dict[str, Any]:
        return {"id": int(r.id), "zone_id": z, "parent_id": None, "name": _relative(r.name, z),
                "content": r.content, "ttl": r.ttl, "priority": None, "type": r.type,
                "regions": ["global"], "system_record": False}

    @api.route("GET", r"/accounts")
    def accounts(req: Request, m: Any) -> Reply:
        return 200, {"data": [{"id": int(account), "email": "ops@example.com",
                               "plan_identifier": "dnsimple-professional"}]}

    @api.route("GET", rf"/{account}/domains")
    def domains(req: Request, m: Any) -> Reply:
        like = req.query.get("name_like", "")
        found = [{"id": int(i), "account_id": int(account), "name": n, "state": "hosted"}
                 for n, i in api.zones.items() if like in n]
        return 200, {"data": found, "pagination": {"current_page": 1, "per_page": 30,
                                                   "total_entries": len(found), "total_pages": 1}}

    @api.route("GET", rf"/{account}/zones/([^/]+)/records")
    def records(req: Request, m: Any) -> Reply:
        if m[1] not in api.zones:
            return 404, {"message": f"Zone `{m[1]}` not found"}
        found = [shape(r, m[1]) for r in _in_zone(api, m[1])
                 if req.query.get("type") in (None, r.type)
                 and req.query.get("name") in (None, _relative(r.name, m[1]))]
        return 200, {"data": found, "pagination": {"current_page": 1, "total_pages": 1}}

    @api.route("POST", rf"/{account}/zones/([^/]+)/records")
    def create(req: Request, m: Any) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        ok = (json_body(req) and m[1] in api.zones and body.get("type") == "TXT"
              and isinstance(body.get("name"), str) and not body["name"].endswith(m[1])
              and bool(body.get("content")))
        api.check(ok, f"bad dnsimple record body: {req.body!r}")
        if not ok:
            return 400, {"message": "Validation failed", "errors": {}}
        rec = Record(api.new_id(), "TXT", _absolute(body["name"], m[1]), body["content"],
                     int(body.get("ttl") or 3600))
        api.records[rec.id] = rec
        return 201, {"data": shape(rec, m[1])}

    @api.route("DELETE", rf"/{account}/zones/([^/]+)/records/(\d+)")
    def delete(req: Request, m: Any) -> Reply:
        if api.records.pop(m[2], None) is None:
            return 404, {"message": "Record not found"}
        return 204, None

    return api


def _dme_signed(api: FakeApi, secret: str, req: Request) -> Reply | None:
    """DNS Made Easy's check: an HMAC-SHA1 of the request date, and a current date."""
    date = req.headers.get("x-dnsme-requestdate", "")
    expected = hmac.new(secret.encode(), date.encode(), sha1).hexdigest()
    if not hmac.compare_digest(req.headers.get("x-dnsme-hmac", ""), expected):
        return 403, {"error": ["HMAC validation failed."]}
    try:
        skew = abs(parsedate_to_datetime(date).timestamp() - time.time())
    except (TypeError, ValueError):
        skew = 1e9
    if skew > 300:
        api.violations.append(f"x-dnsme-requestDate {date!r} is not a current HTTP date")
        return 403, {"error": ["Request sent with date header too far out of sync."]}
    return None


def dnsmadeeasy(api_key: str = "dme-key", secret: str = "dme-secret",
                zone: str = "example.com") -> FakeApi:
    api = FakeApi({zone: "1119443"}, lambda h: h.get("x-dnsme-apikey") == api_key,
                  (403, {"error": ["API key not found"]}))

    api.verify = functools.partial(_dme_signed, api, secret)

    def zone_of(zid: str) -> str:
        return next((n for n, i in api.zones.items() if i == zid), "")

    @api.route("GET", r"/dns/managed/name")
    def by_name(req: Request, m: Any) -> Reply:
        name = req.query.get("domainname", "")
        if name not in api.zones:
            return 404, {"error": [f"Domain {name} not found"]}
        return 200, {"id": int(api.zones[name]), "name": name, "gtdEnabled": False}

    @api.route("GET", r"/dns/managed/(\d+)/records")
    def records(req: Request, m: Any) -> Reply:
        zname = zone_of(m[1])
        found = [{"id": int(r.id), "name": _relative(r.name, zname), "type": r.type,
                  "value": f'"{r.content}"', "ttl": r.ttl, "sourceId": int(m[1])}
                 for r in _in_zone(api, zname)
                 if req.query.get("type") in (None, r.type)
                 and req.query.get("recordName") in (None, _relative(r.name, zname))]
        return 200, {"data": found, "page": 0, "totalPages": 1, "totalRecords": len(found)}

    @api.route("POST", r"/dns/managed/(\d+)/records/?")
    def create(req: Request, m: Any) -> Reply:
        zname, body = zone_of(m[1]), req.body if isinstance(req.body, dict) else {}
        ok = (bool(zname) and body.get("type") == "TXT" and isinstance(body.get("name"), str)
              and not body["name"].endswith(zname) and bool(body.get("value"))
              and isinstance(body.get("ttl"), int))
        api.check(ok, f"bad dnsmadeeasy record body: {req.body!r}")
        if not ok:
            return 404, {"error": ["Record is not valid."]}  # not 400: lexicon retries those
        rec = Record(api.new_id(), "TXT", _absolute(body["name"], zname),
                     body["value"].strip('"'), body["ttl"])
        api.records[rec.id] = rec
        return 201, {"id": int(rec.id), "name": body["name"], "type": "TXT",
                     "value": body["value"], "ttl": rec.ttl}

    @api.route("DELETE", r"/dns/managed/(\d+)/records/(\d+)")
    def delete(req: Request, m: Any) -> Reply:
        if api.records.pop(m[2], None) is None:
            return 404, {"error": ["Record not found"]}
        return 200, None

    return api


def linode(token: str = "linode-token", zone: str = "example.com") -> FakeApi:
    api = FakeApi({zone: "738"}, bearer(token), (401, {"errors": [{"reason": "Invalid Token"}]}))

    def page(items: list[dict[str, Any]]) -> Reply:
        return 200, {"data": items, "page": 1, "pages": 1, "results": len(items)}

    def zone_of(zid: str) -> str:
        return next((n for n, i in api.zones.items() if i == zid), "")

    @api.route("GET", r"/domains")
    def domains(req: Request, m: Any) -> Reply:
        try:
            wanted = json.loads(req.headers.get("x-filter", "{}")).get("domain")
        except ValueError:
            api.violations.append(f"X-Filter is not JSON: {req.headers.get('x-filter')!r}")
            return 400, {"errors": [{"reason": "Invalid JSON", "field": "X-Filter"}]}
        return page([{"id": int(i), "domain": n, "type": "master", "status": "active"}
                     for n, i in api.zones.items() if wanted in (None, n)])

    @api.route("GET", r"/domains/(\d+)/records")
    def records(req: Request, m: Any) -> Reply:
        zname = zone_of(m[1])
        return page([{"id": int(r.id), "name": _relative(r.name, zname), "type": r.type,
                      "target": r.content, "ttl_sec": r.ttl} for r in _in_zone(api, zname)])

    @api.route("POST", r"/domains/(\d+)/records")
    def create(req: Request, m: Any) -> Reply:
        zname, body = zone_of(m[1]), req.body if isinstance(req.body, dict) else {}
        ok = (bool(zname) and body.get("type") == "TXT" and isinstance(body.get("name"), str)
              and not body["name"].endswith(zname) and bool(body.get("target"))
              and isinstance(body.get("ttl_sec"), int))
        api.check(ok, f"bad linode record body: {req.body!r}")
        if not ok:
            return 400, {"errors": [{"reason": "Invalid record"}]}
        rec = Record(api.new_id(), "TXT", _absolute(body["name"], zname), body["target"],
                     body["ttl_sec"])
        api.records[rec.id] = rec
        return 200, {"id": int(rec.id), "name": body["name"], "type": "TXT",
                     "target": rec.content, "ttl_sec": rec.ttl}

    @api.route("DELETE", r"/domains/(\d+)/records/(\d+)")
    def delete(req: Request, m: Any) -> Reply:
        if api.records.pop(m[2], None) is None:
            return 404, {"errors": [{"reason": "Not found"}]}
        return 200, {}

    return api


def nsone(key: str = "ns1-key", zone: str = "example.com") -> FakeApi:
    return _Ns1(key, zone).api


class _Ns1:
    """The NS1 fake's routes: one record set per (zone, domain, type), answers inside."""

    missing = (404, {"message": "record not found"})

    def __init__(self, key: str, zone: str) -> None:
        self.api = api = FakeApi({zone: "52051b2c9f782d58bb4df41b"},
                                 lambda h: h.get("x-nsone-key") == key,
                                 (401, {"message": "Unauthorized"}))
        for method, pattern, handler in (
            ("GET", r"/zones/([^/]+)", self.get_zone),
            ("GET", r"/zones/([^/]+)/([^/]+)/([A-Z]+)", self.get_set),
            ("PUT", r"/zones/([^/]+)/([^/]+)/([A-Z]+)", self.create),
            ("POST", r"/zones/([^/]+)/([^/]+)/([A-Z]+)", self.update),
            ("DELETE", r"/zones/([^/]+)/([^/]+)/([A-Z]+)", self.delete),
        ):
            api.route(method, pattern)(handler)

    def record_set(self, zname: str, domain: str, rtype: str) -> list[Record]:
        return [r for r in self.api.records.values() if r.name == domain and r.type == rtype]

    def shape(self, zname: str, domain: str, rtype: str) -> dict[str, Any]:
        found = self.record_set(zname, domain, rtype)
        return {"id": f"rs-{domain}-{rtype}", "zone": zname, "domain": domain, "type": rtype,
                "ttl": found[0].ttl if found else 3600,
                "answers": [{"id": r.id, "answer": [r.content]} for r in found]}

    def answers_ok(self, body: Any) -> bool:
        answers = body.get("answers") if isinstance(body, dict) else None
        ok = (isinstance(answers, list) and bool(answers)
              and all(isinstance(a, dict) and isinstance(a.get("answer"), list)
                      and len(a["answer"]) == 1 and isinstance(a["answer"][0], str)
                      for a in answers))
        self.api.check(ok, f"bad ns1 answers: {body!r}")
        return ok

    def store(self, zname: str, domain: str, rtype: str, body: dict[str, Any]) -> None:
        for rec in self.record_set(zname, domain, rtype):
            del self.api.records[rec.id]
        for answer in body["answers"]:
            rec = Record(self.api.new_id(), rtype, domain, answer["answer"][0],
                         int(body.get("ttl") or 3600))
            self.api.records[rec.id] = rec

    def get_zone(self, req: Request, m: Any) -> Reply:
        api = self.api
        if m[1] not in api.zones:
            return 404, {"message": "zone not found"}
        sets = {(r.name, r.type) for r in _in_zone(api, m[1])}
        return 200, {"id": api.zones[m[1]], "zone": m[1], "ttl": 3600,
                     "records": [{**self.shape(m[1], d, t), "short_answers":
                                  [a["answer"][0] for a in self.shape(m[1], d, t)["answers"]]}
                                 for d, t in sorted(sets)]}

    def get_set(self, req: Request, m: Any) -> Reply:
        if m[1] not in self.api.zones or not self.record_set(m[1], m[2], m[3]):
            return self.missing
        return 200, self.shape(m[1], m[2], m[3])

    def create(self, req: Request, m: Any) -> Reply:
        body = req.body
        ok = (m[1] in self.api.zones and self.answers_ok(body) and body.get("domain") == m[2]
              and body.get("type") == m[3] and body.get("zone") in (None, m[1])
              and (m[2] == m[1] or m[2].endswith("." + m[1])))
        self.api.check(ok, f"bad ns1 record create {m[0]}: {body!r}")
        if not ok:
            return 400, {"message": "invalid record"}
        if self.record_set(m[1], m[2], m[3]):
            return 400, {"message": "record already exists"}
        self.store(m[1], m[2], m[3], body)
        return 200, self.shape(m[1], m[2], m[3])

    def update(self, req: Request, m: Any) -> Reply:
        if not self.record_set(m[1], m[2], m[3]):
            return self.missing
        body = req.body
        ok = (self.answers_ok(body) and body.get("domain", m[2]) == m[2]
              and body.get("type", m[3]) == m[3])
        if not ok:
            return 400, {"message": "invalid record"}
        self.store(m[1], m[2], m[3], body)
        return 200, self.shape(m[1], m[2], m[3])

    def delete(self, req: Request, m: Any) -> Reply:
        found = self.record_set(m[1], m[2], m[3])
        if not found:
            return self.missing
        for rec in found:
            del self.api.records[rec.id]
        return 200, {}
