"""Local stand-ins for DNS providers' HTTP APIs (real HTTP servers on loopback).

The real APIs cannot be reached from here, so each fake implements the
routes dns-lexicon uses, as the provider documents them: it checks the
authentication header on every request, validates request bodies, keeps the
records in memory and answers in the provider's JSON shapes. Anything
unexpected is answered 404/400 and recorded in ``violations`` so a test can
fail on it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.infra.httpd import Running, reply, request_body

Reply = tuple[int, Any]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw_query: str = ""  # undecoded, for APIs that put JSON in the query string
    raw_body: str = ""  # as sent, for signatures over the body
    url: str = ""  # as the client addressed it (scheme, host, path, query)


@dataclass
class Record:
    id: str
    type: str
    name: str  # fully qualified, no trailing dot
    content: str
    ttl: int


Route = tuple[str, "re.Pattern[str]", Callable[[Request, "re.Match[str]"], Reply]]


@dataclass
class FakeApi:
    """Routes, an auth check, a record store; ``url`` once started."""

    zones: dict[str, str]  # zone name -> zone id
    authorized: Callable[[dict[str, str]], bool]
    unauthorized: Reply = (401, {"message": "unauthorized"})
    records: dict[str, Record] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    url: str = ""
    public: tuple[tuple[str, str], ...] = ()  # (method, path) served without authentication
    verify: Callable[[Request], Reply | None] | None = None  # request-level auth (signatures)
    _server: Running | None = None
    _next: int = 0

    def route(self, method: str, pattern: str) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
        def add(fn: Callable[..., Reply]) -> Callable[..., Reply]:
            self.routes.append((method, re.compile(pattern + r"$"), fn))
            return fn
        return add

    def new_id(self) -> str:
        self._next += 1
        return str(1000 + self._next)

    def txt(self, name: str) -> list[str]:
        return sorted(r.content for r in self.records.values() if r.type == "TXT" and r.name == name)

    def start(self, prefix: str = "") -> FakeApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                raw = request_body(self)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                req = Request(self.command, parts.path[len(prefix):],
                              {k: v[0] for k, v in parse_qs(parts.query).items()},
                              {k.lower(): v for k, v in self.headers.items()}, body,
                              raw_query=parts.query, raw_body=raw.decode(errors="replace"),
                              url=f"http://{self.headers.get('Host', '')}{self.path}")
                api.requests.append(req)
                status, payload = api.dispatch(req)
                data = b"" if payload is None else json.dumps(payload).encode()
                reply(self, status, data, "application/json")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = Running(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
        self.url = f"http://127.0.0.1:{self._server.port}{prefix}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def dispatch(self, req: Request) -> Reply:
        if (req.method, req.path) not in self.public:
            if not self.authorized(req.headers):
                return self.unauthorized
            refused = self.verify(req) if self.verify is not None else None
            if refused is not None:
                return refused
        for method, pattern, fn in self.routes:
            match = pattern.match(req.path)
            if method == req.method and match:
                return fn(req, match)
        self.violations.append(f"no route for {req.method} {req.path}")
        return 404, {"message": "not found"}

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.violations.append(what)


def bearer(token: str) -> Callable[[dict[str, str]], bool]:
    return lambda h: h.get("authorization") == f"Bearer {token}"


def basic(user: str, password: str) -> Callable[[dict[str, str]], bool]:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return lambda h: h.get("authorization") == expected
