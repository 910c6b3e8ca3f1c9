"""Which vhost gets a name: a table over one configuration of many vhosts.

Each row is (name, port, the ServerName/DocumentRoot of the expected vhost
or None). The rules are those of ``certkernel.plugins.apache.vhosts``:
exact names beat wildcards, longer wildcards beat shorter ones, ties go to
the first vhost (as in httpd), ``_default_`` catches unmatched names, ports
must match (a port-less address takes every port), macros are never used.
"""

from __future__ import annotations

import pytest

from certkernel.plugins.apache.config import ApacheConfig
from certkernel.plugins.apache.vhosts import Addr, VirtualHost, collect, select
from tests.apache.conftest import CONFIGS

ROOT = CONFIGS / "selection"


@pytest.fixture(scope="module")
def vhosts() -> list[VirtualHost]:
    config = ApacheConfig(ROOT, ROOT / "apache2.conf", env={})
    return collect(config)


def _doc_root(v: VirtualHost) -> str | None:
    for item in v.directives:
        if item.node.lname == "documentroot":
            return item.args[0]
    return None


TABLE = [
    # name, port, expected ServerName (plus DocumentRoot when names repeat)
    ("example.com", 80, "example.com"),
    ("EXAMPLE.com", 80, "example.com"),
    ("www.example.com", 80, "example.com"),
    ("blog.example.com", 80, "wild.example.com"),
    ("a.b.example.com", 80, "wild.example.com"),  # fnmatch: * spans dots, as in httpd
    ("x.shop.example.com", 80, "deep.example.com"),  # longer pattern wins
    ("deep.example.com", 80, "deep.example.com"),
    ("ip.example.org", 80, "ip.example.org"),
    ("dup.example.org", 80, "dup.example.org /srv/first"),
    ("example.com", 443, "example.com"),
    ("www.example.com", 443, None),  # the 443 vhost does not name it, and is not alone on 443
    ("app.example.net", 8080, "app.example.net"),
    ("app.example.io", 8080, "app.example.net"),  # trailing wildcard app.*
    ("unknown.example.net", 8080, "fallback.example.net"),  # _default_
    ("unknown.example.net", 80, None),  # several vhosts on 80, none matches
    ("v6.example.org", 80, "v6.example.org"),
    ("v6.example.org", 443, None),
    ("anyport.example.org", 9999, "anyport.example.org"),
    ("$d", 80, None),  # the macro's vhost is a template
    ("example.org", 80, None),
]


@pytest.mark.parametrize(("name", "port", "expected"), TABLE)
def test_selection(vhosts: list[VirtualHost], name: str, port: int, expected: str | None) -> None:
    got = select(vhosts, name, port)
    if expected is None:
        assert got is None, got.describe() if got else ""
        return
    assert got is not None
    server_name, _, root = expected.partition(" ")
    assert got.name == server_name
    if root:
        assert _doc_root(got) == root


def test_ssl_flag_and_macro(vhosts: list[VirtualHost]) -> None:
    assert [v.name for v in vhosts if v.ssl] == ["example.com"]
    assert "$d" not in [v.name for v in vhosts]  # a <Macro> body is not configuration


def test_single_vhost_takes_unknown_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "apache2.conf"
    conf.write_text("Listen 80\n<VirtualHost *:80>\n  DocumentRoot /srv\n</VirtualHost>\n")
    only = collect(ApacheConfig(tmp_path, conf, env={}))
    assert select(only, "anything.example", 80) is only[0]
    assert select(only, "anything.example", 443) is None


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("*:80", "*", "80"),
        ("127.0.0.1:8443", "127.0.0.1", "8443"),
        ("[::1]:443", "[::1]", "443"),
        ("[::1]", "[::1]", "*"),
        ("_default_:443", "_default_", "443"),
        ("example.com", "example.com", "*"),
        ("2001:db8::5", "2001:db8::5", "*"),
    ],
)
def test_addr_parse(text: str, host: str, port: str) -> None:
    addr = Addr.parse(text)
    assert (addr.host, addr.port) == (host, port)
    assert str(addr.with_port(443)).endswith(":443")
