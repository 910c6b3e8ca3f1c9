"""Fakes of three provider APIs, after their public documentation.

- Cloudflare API v4: ``/zones``, ``/zones/{id}/dns_records`` with a Bearer
  token or ``X-Auth-Email``/``X-Auth-Key``; answers ``{success, errors,
  result, result_info}``.
- DigitalOcean API v2: ``/domains/{name}`` and ``/domains/{name}/records``
  with a Bearer token; record names are relative to the domain.
- LuaDNS API v1: ``/zones`` and ``/zones/{id}/records`` with HTTP Basic auth
  (account e-mail, API token) and ``Accept: application/json``.
"""

from __future__ import annotations

from typing import Any

from tests.infra.fakeapi import FakeApi, Record, Reply, Request, basic, bearer


def _txt_body_ok(api: FakeApi, body: Any, zone: str, fqdn_key: str, relative: bool) -> bool:
    ok = isinstance(body, dict) and body.get("type") == "TXT" and bool(body.get("content")
                                                                          or body.get("data"))
    name = str(body.get(fqdn_key, "")) if isinstance(body, dict) else ""
    ok = ok and (not name.endswith(zone) if relative else name.rstrip(".").endswith(zone))
    api.check(ok, f"bad record body: {body!r}")
    return ok


def cloudflare(token: str = "cf-token", zone: str = "example.com") -> FakeApi:
    api = FakeApi({zone: "023e105f4ecef8ad9ca31a8372d0c353"}, bearer(token),
                  (403, {"success": False, "errors": [{"code": 10000,
                                                       "message": "Authentication error"}]}))

    def ok(result: Any, page: bool = False) -> Reply:
        out: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
        if page:
            out["result_info"] = {"page": 1, "per_page": 100, "total_pages": 1,
                                  "count": len(result), "total_count": len(result)}
        return 200, out

    def zone_of(zid: str) -> str | None:
        return next((n for n, i in api.zones.items() if i == zid), None)

    @api.route("GET", r"/zones")
    def list_zones(req: Request, m: Any) -> Reply:
        return ok([{"id": i, "name": n, "status": "active"} for n, i in api.zones.items()], True)

    @api.route("GET", r"/zones/(\w+)/dns_records")
    def list_records(req: Request, m: Any) -> Reply:
        if zone_of(m[1]) is None:
            return 404, {"success": False, "errors": [{"code": 7003, "message": "No route"}]}
        found = [r for r in api.records.values()
                 if all(req.query.get(k) in (None, v) for k, v in
                        (("type", r.type), ("name", r.name), ("content", r.content)))]
        return ok([{"id": r.id, "type": r.type, "name": r.name, "content": r.content,
                    "ttl": r.ttl} for r in found], True)

    @api.route("POST", r"/zones/(\w+)/dns_records")
    def create(req: Request, m: Any) -> Reply:
        zname = zone_of(m[1])
        if zname is None or not _txt_body_ok(api, req.body, zname, "name", relative=False):
            return 400, {"success": False, "errors": [{"code": 9000, "message": "bad"}]}
        rec = Record(api.new_id(), "TXT", req.body["name"], req.body["content"],
                     int(req.body.get("ttl", 1)))
        api.records[rec.id] = rec
        return ok({"id": rec.id, "type": rec.type, "name": rec.name, "content": rec.content})

    @api.route("DELETE", r"/zones/(\w+)/dns_records/(\w+)")
    def delete(req: Request, m: Any) -> Reply:
        if api.records.pop(m[2], None) is None:
            return 404, {"success": False, "errors": [{"code": 81044, "message": "not found"}]}
        return ok({"id": m[2]})

    return api


def digitalocean(token: str = "do-token", zone: str = "example.com") -> FakeApi:
    api = FakeApi({zone: zone}, bearer(token),
                  (401, {"id": "unauthorized", "message": "Unable to authenticate you"}))
    missing = (404, {"id": "not_found", "message": "The resource you requested could not be found."})

    @api.route("GET", r"/domains/([^/]+)")
    def domain(req: Request, m: Any) -> Reply:
        if m[1] not in api.zones:
            return missing
        return 200, {"domain": {"name": m[1], "ttl": 1800, "zone_file": ""}}

    @api.route("GET", r"/domains/([^/]+)/records")
    def records(req: Request, m: Any) -> Reply:
        if m[1] not in api.zones:
            return missing
        rel = [{"id": int(r.id), "type": r.type, "name": r.name[: -len(m[1]) - 1] or "@",
                "data": r.content, "ttl": r.ttl} for r in api.records.values()
               if r.name.endswith("." + m[1])]
        return 200, {"domain_records": rel, "links": {}, "meta": {"total": len(rel)}}

    @api.route("POST", r"/domains/([^/]+)/records")
    def create(req: Request, m: Any) -> Reply:
        if m[1] not in api.zones:
            return missing
        if not _txt_body_ok(api, req.body, m[1], "name", relative=True):
            return 422, {"id": "unprocessable_entity", "message": "bad record"}
        rec = Record(api.new_id(), "TXT", f"{req.body['name']}.{m[1]}", req.body["data"],
                     int(req.body.get("ttl") or 1800))
        api.records[rec.id] = rec
        return 201, {"domain_record": {"id": int(rec.id), "type": "TXT",
                                       "name": req.body["name"], "data": rec.content}}

    @api.route("DELETE", r"/domains/([^/]+)/records/(\d+)")
    def delete(req: Request, m: Any) -> Reply:
        if api.records.pop(m[2], None) is None:
            return missing
        return 204, None

    return api


def luadns(email: str = "joe@example.com", token: str = "lua-token",
           zone: str = "example.com") -> FakeApi:
    api = FakeApi({zone: "5"}, basic(email, token),
                  (401, {"status": "Unauthorized", "message": "Invalid credentials"}))

    def accept_json(req: Request) -> bool:
        ok = req.headers.get("accept") == "application/json"
        api.check(ok, f"{req.method} {req.path} without Accept: application/json")
        return ok

    @api.route("GET", r"/zones")
    def zones(req: Request, m: Any) -> Reply:
        accept_json(req)
        return 200, [{"id": int(i), "name": n} for n, i in api.zones.items()]

    @api.route("GET", r"/zones/(\d+)/records")
    def records(req: Request, m: Any) -> Reply:
        return 200, [{"id": int(r.id), "type": r.type, "name": r.name + ".",
                      "content": r.content, "ttl": r.ttl} for r in api.records.values()]

    @api.route("POST", r"/zones/(\d+)/records")
    def create(req: Request, m: Any) -> Reply:
        zname = next((n for n, i in api.zones.items() if i == m[1]), "")
        if not accept_json(req) or not _txt_body_ok(api, req.body, zname, "name", relative=False):
            return 400, {"status": "Bad Request"}
        rec = Record(api.new_id(), "TXT", str(req.body["name"]).rstrip("."),
                     req.body["content"], int(req.body.get("ttl") or 300))
        api.records[rec.id] = rec
        return 200, {"id": int(rec.id), "name": rec.name + ".", "type": "TXT",
                     "content": rec.content, "ttl": rec.ttl}

    @api.route("DELETE", r"/zones/(\d+)/records/(\d+)")
    def delete(req: Request, m: Any) -> Reply:
        rec = api.records.pop(m[2], None)
        if rec is None:
            return 404, {"status": "Not Found"}
        return 200, {"id": int(rec.id), "name": rec.name + "."}

    return api
