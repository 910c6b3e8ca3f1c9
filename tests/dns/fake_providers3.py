"""Fakes of the Gehirn, OVH and Sakura Cloud APIs, after their public documentation.

- Gehirn DNS API v1: HTTP Basic (API token, API secret); ``GET /zones``
  lists zones with ``current_version_id``; record sets live under
  ``/zones/{id}/versions/{version}/records``, one per (name, type) with the
  name absolute and dot-terminated and TXT values as ``records: [{data}]``.
- OVH API 1.0: ``GET /auth/time`` unauthenticated; every other call carries
  ``X-Ovh-Application``, ``X-Ovh-Consumer``, ``X-Ovh-Timestamp`` and
  ``X-Ovh-Signature`` = ``"$1$" + sha1(secret+consumer+METHOD+url+body+ts)``
  (joined with ``+``). ``/domain/zone/`` lists zone names,
  ``/domain/zone/{zone}/record`` lists ids / creates ``{fieldType, subDomain,
  target, ttl}``, ``/domain/zone/{zone}/refresh`` applies changes.
- Sakura Cloud API 1.1: HTTP Basic (token, secret); a DNS zone is a
  ``commonserviceitem`` found with a JSON ``Filter`` in the query string, and
  its records are replaced as a whole (``Settings.DNS.ResourceRecordSets``,
  relative names, ``@`` for the apex) by a PUT.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import unquote

from tests.infra.fakeapi import FakeApi, Record, Reply, Request, basic


def gehirn(token: str = "gehirn-token", secret: str = "gehirn-secret",
           zone: str = "example.com") -> FakeApi:
    api = FakeApi({zone: "8d2cc32b-2fc2-4b5d-8d3d-7e1a9f3b6a21"}, basic(token, secret),
                  (401, {"code": 401, "message": "Unauthorized"}))
    version = "c2a13c4b-7d39-4d0e-b9c1-6d2d2f4f9a53"
    sets: dict[str, dict[str, Any]] = {}  # record-set id -> body as stored

    def sync() -> None:
        api.records = {f"{sid}.{i}": Record(f"{sid}.{i}", s["type"], s["name"].rstrip("."),
                                            r["data"], s["ttl"])
                       for sid, s in sets.items() for i, r in enumerate(s["records"])}

    def body_ok(req: Request, zid: str) -> bool:
        body, zname = req.body, next((n for n, i in api.zones.items() if i == zid), "")
        ok = (isinstance(body, dict) and body.get("type") == "TXT"
              and isinstance(body.get("name"), str) and body["name"].endswith(zname + ".")
              and body.get("enable_alias") is False and isinstance(body.get("ttl"), int)
              and isinstance(body.get("records"), list) and bool(body["records"])
              and all(isinstance(r, dict) and set(r) == {"data"} for r in body["records"]))
        api.check(ok, f"bad gehirn record set {req.method} {req.path}: {body!r}")
        return ok

    @api.route("GET", r"/zones")
    def zones(req: Request, m: Any) -> Reply:
        return 200, [{"id": i, "name": n, "current_version_id": version}
                     for n, i in api.zones.items()]

    @api.route("GET", rf"/zones/([\w-]+)/versions/{version}/records")
    def records(req: Request, m: Any) -> Reply:
        return 200, [{"id": sid, **s} for sid, s in sets.items()]

    @api.route("POST", rf"/zones/([\w-]+)/versions/{version}/records")
    def create(req: Request, m: Any) -> Reply:
        if not body_ok(req, m[1]):
            return 400, {"code": 400, "message": "Bad Request"}
        sid = api.new_id()
        sets[sid] = {k: req.body[k] for k in ("type", "name", "enable_alias", "ttl", "records")}
        sync()
        return 200, {"id": sid, **sets[sid]}

    @api.route("PUT", rf"/zones/([\w-]+)/versions/{version}/records/(\w+)")
    def replace(req: Request, m: Any) -> Reply:
        if m[2] not in sets:
            return 404, {"code": 404, "message": "Not Found"}
        if not body_ok(req, m[1]):
            return 400, {"code": 400, "message": "Bad Request"}
        sets[m[2]] = {k: req.body[k] for k in ("type", "name", "enable_alias", "ttl", "records")}
        sync()
        return 200, {"id": m[2], **sets[m[2]]}

    @api.route("DELETE", rf"/zones/([\w-]+)/versions/{version}/records/(\w+)")
    def delete(req: Request, m: Any) -> Reply:
        gone = sets.pop(m[2], None)
        sync()
        return (404, {"code": 404, "message": "Not Found"}) if gone is None else (200, {"id": m[2], **gone})

    return api


def ovh(app_key: str = "ovh-app", app_secret: str = "ovh-secret", consumer: str = "ovh-consumer",
        zone: str = "example.com") -> FakeApi:
    return _Ovh(app_key, app_secret, consumer, zone).api


class _Ovh:
    """The OVH fake's state and routes (``api.refreshed``: the zones refreshed, in order)."""

    def __init__(self, app_key: str, app_secret: str, consumer: str, zone: str) -> None:
        self.app_key, self.app_secret, self.consumer = app_key, app_secret, consumer
        self.api = api = FakeApi({zone: zone}, lambda h: True, public=(("GET", "/auth/time"),))
        self.refreshed: list[str] = []
        api.verify = self.signed
        api.refreshed = self.refreshed  # type: ignore[attr-defined]
        for method, pattern, handler in (
            ("GET", r"/auth/time", self.server_time),
            ("GET", r"/domain/zone/", self.zones),
            ("GET", r"/domain/zone/([^/]+)/status", self.status),
            ("GET", r"/domain/zone/([^/]+)/record", self.record_ids),
            ("GET", r"/domain/zone/([^/]+)/record/(\d+)", self.record),
            ("POST", r"/domain/zone/([^/]+)/record", self.create),
            ("DELETE", r"/domain/zone/([^/]+)/record/(\d+)", self.delete),
            ("POST", r"/domain/zone/([^/]+)/refresh", self.refresh),
        ):
            api.route(method, pattern)(handler)

    def signed(self, req: Request) -> Reply | None:
        h = req.headers
        if h.get("x-ovh-application") != self.app_key:
            return 403, {"errorCode": "INVALID_KEY", "message": "Invalid application key"}
        if h.get("x-ovh-consumer") != self.consumer:
            return 403, {"errorCode": "INVALID_CREDENTIAL",
                         "message": "This credential does not exist"}
        stamp = h.get("x-ovh-timestamp", "")
        if not stamp.isdigit() or abs(int(stamp) - int(time.time())) > 180:
            return 400, {"errorCode": "QUERY_TIME_OUT", "message": "Query out of time"}
        text = "+".join([self.app_secret, self.consumer, req.method, req.url, req.raw_body, stamp])
        if h.get("x-ovh-signature") != "$1$" + hashlib.sha1(text.encode()).hexdigest():
            return 400, {"errorCode": "INVALID_SIGNATURE", "message": "Invalid signature"}
        return None

    def server_time(self, req: Request, m: Any) -> Reply:
        return 200, int(time.time())

    def zones(self, req: Request, m: Any) -> Reply:
        return 200, sorted(self.api.zones)

    def status(self, req: Request, m: Any) -> Reply:
        if m[1] not in self.api.zones:
            return 404, {"message": "This service does not exist"}
        return 200, {"isDeployed": True, "warnings": [], "errors": []}

    def record_ids(self, req: Request, m: Any) -> Reply:
        return 200, [int(r.id) for r in self.api.records.values()
                     if req.query.get("fieldType") in (None, r.type)
                     and req.query.get("subDomain") in (None, _sub(r.name, m[1]))]

    def record(self, req: Request, m: Any) -> Reply:
        rec = self.api.records.get(m[2])
        if rec is None:
            return 404, {"message": "This service does not exist"}
        return 200, {"id": int(rec.id), "zone": m[1], "fieldType": rec.type,
                     "subDomain": _sub(rec.name, m[1]), "target": f'"{rec.content}"',
                     "ttl": rec.ttl}

    def create(self, req: Request, m: Any) -> Reply:
        api, body = self.api, req.body
        ok = (m[1] in api.zones and req.headers.get("content-type") == "application/json"
              and isinstance(body, dict) and body.get("fieldType") == "TXT"
              and isinstance(body.get("subDomain"), str) and not body["subDomain"].endswith(m[1])
              and bool(body.get("target")) and isinstance(body.get("ttl", 0), int))
        api.check(ok, f"bad ovh record body: {body!r}")
        if not ok:
            return 400, {"message": "Invalid record"}
        name = f"{body['subDomain']}.{m[1]}" if body["subDomain"] else m[1]
        rec = Record(api.new_id(), "TXT", name, body["target"], body.get("ttl", 0))
        api.records[rec.id] = rec
        return 200, {"id": int(rec.id), "zone": m[1], "fieldType": "TXT",
                     "subDomain": body["subDomain"], "target": f'"{rec.content}"', "ttl": rec.ttl}

    def delete(self, req: Request, m: Any) -> Reply:
        if self.api.records.pop(m[2], None) is None:
            return 404, {"message": "This service does not exist"}
        return 200, None

    def refresh(self, req: Request, m: Any) -> Reply:
        self.refreshed.append(m[1])
        return 200, None


def _sub(fqdn: str, zone: str) -> str:
    return "" if fqdn == zone else fqdn[: -len(zone) - 1]


def sakuracloud(token: str = "sakura-token", secret: str = "sakura-secret",
                zone: str = "example.com") -> FakeApi:
    api = FakeApi({zone: "112900000001"}, basic(token, secret),
                  (401, {"is_fatal": True, "status": "401 Unauthorized",
                         "error_code": "unauthorized",
                         "error_msg": "認証に失敗しました / authentication failed"}))
    rrsets: list[dict[str, Any]] = []

    def sync() -> None:
        api.records = {str(i): Record(str(i), s["Type"], _abs(s["Name"], zone), s["RData"],
                                      s["TTL"]) for i, s in enumerate(rrsets)}

    def item(name: str, zid: str) -> dict[str, Any]:
        return {"ID": zid, "Name": name, "Status": {"Zone": name, "NS": ["ns1.gslb1.sakura.ne.jp"]},
                "Provider": {"Class": "dns"},
                "Settings": {"DNS": {"ResourceRecordSets": [dict(s) for s in rrsets]}}}

    @api.route("GET", r"/commonserviceitem")
    def search(req: Request, m: Any) -> Reply:
        try:
            flt = json.loads(unquote(req.raw_query)).get("Filter", {}) if req.raw_query else {}
        except ValueError:
            api.violations.append(f"query is not the JSON Sakura Cloud expects: {req.raw_query!r}")
            return 400, {"is_fatal": True, "error_msg": "bad query"}
        api.check(flt.get("Provider.Class") == "dns", f"search without Provider.Class=dns: {flt}")
        found = [item(n, i) for n, i in api.zones.items() if str(flt.get("Name", "")) in n]
        return 200, {"From": 0, "Count": len(found), "Total": len(found),
                     "CommonServiceItems": found, "is_ok": True}

    @api.route("GET", r"/commonserviceitem/(\d+)")
    def get(req: Request, m: Any) -> Reply:
        name = next((n for n, i in api.zones.items() if i == m[1]), None)
        if name is None:
            return 404, {"is_fatal": True, "error_msg": "not found"}
        return 200, {"CommonServiceItem": item(name, m[1]), "is_ok": True}

    @api.route("PUT", r"/commonserviceitem/(\d+)")
    def put(req: Request, m: Any) -> Reply:
        body = req.body
        sets = (body.get("CommonServiceItem", {}).get("Settings", {}).get("DNS", {})
                .get("ResourceRecordSets") if isinstance(body, dict) else None)
        ok = (isinstance(sets, list)
              and all(isinstance(s, dict) and {"Name", "Type", "RData"} <= set(s)
                      and not str(s["Name"]).endswith(zone) and s["Name"] != ""
                      and isinstance(s.get("TTL", 0), int) for s in sets))
        api.check(ok, f"bad sakuracloud record sets: {body!r}")
        if not ok:
            return 400, {"is_fatal": True, "error_msg": "invalid ResourceRecordSets"}
        rrsets[:] = [{k: s[k] for k in ("Name", "Type", "RData", "TTL") if k in s} for s in sets]
        sync()
        return 200, {"CommonServiceItem": item(zone, m[1]), "Success": True, "is_ok": True}

    return api


def _abs(name: str, zone: str) -> str:
    return zone if name == "@" else f"{name}.{zone}"
