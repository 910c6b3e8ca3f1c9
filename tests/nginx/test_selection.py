"""Server block selection: nginx's lookup order, the installer's ranking, get_all_names."""

from __future__ import annotations

from pathlib import Path

import pytest

from certkernel.plugins.nginx.parser import NginxConfig
from certkernel.plugins.nginx.selection import (
    Rank,
    ServerBlock,
    choose_for_install,
    get_all_names,
    nginx_lookup,
    parse_listen,
    server_blocks,
)

CONFIGS = Path(__file__).resolve().parent / "configs" / "selection"


def _servers(tree: str) -> list[ServerBlock]:
    return server_blocks(NginxConfig.load(str(CONFIGS / tree)))


def _block_id(server: ServerBlock) -> str:
    for child in server.block.children:
        if child.name == "add_header" and child.args[0] == "X-Block":
            return child.args[1]
    raise AssertionError(f"block without X-Block at {server.directive.where()}")


INSTALL_TABLE = [
    # name, expected block, how it matched
    ("plain.example.com", "plain-ssl", Rank.EXACT),  # exact on both; the TLS one wins
    ("PLAIN.example.com", "plain-ssl", Rank.EXACT),
    ("a.example.com", "star-short", Rank.LEADING_WILDCARD),
    ("x.deep.example.com", "star-long", Rank.LEADING_WILDCARD),  # longest leading wildcard
    ("deep.example.com", "star-short", Rank.LEADING_WILDCARD),
    ("www.example.com", "star-short", Rank.LEADING_WILDCARD),  # leading beats trailing
    ("www.example.co.uk", "trailing-long", Rank.TRAILING_WILDCARD),
    ("www.example.net", "trailing-short", Rank.TRAILING_WILDCARD),
    ("api7.example.org", "regex-first", Rank.REGEX),  # first matching regex in order
    ("apix.example.org", "regex-second", Rank.REGEX),
    ("exact.example.org", "regex-second", Rank.EXACT),  # exact beats an earlier regex
    ("v6.example.net", "v6", Rank.EXACT),
    ("dotted.example.net", "dotted", Rank.LEADING_WILDCARD),  # ".x" matches x itself
    ("a.dotted.example.net", "dotted", Rank.LEADING_WILDCARD),
    ("inc.example.com", "included", Rank.EXACT),  # server_name and listen from includes
    ("inc2.example.com", "included", Rank.EXACT),  # names compare case-insensitively
]


@pytest.mark.parametrize(("name", "expected", "rank"), INSTALL_TABLE)
def test_choose_for_install(name: str, expected: str, rank: Rank) -> None:
    chosen = choose_for_install(_servers("mixed"), name, https_port=8443)
    assert chosen is not None
    assert (_block_id(chosen[0]), chosen[1]) == (expected, rank)


def test_no_name_match_is_none() -> None:
    assert choose_for_install(_servers("mixed"), "nothing.invalid", https_port=8443) is None


LOOKUP_TABLE = [
    # tree, name, port, expected block (None: nothing listens there), rank
    ("mixed", "plain.example.com", 80, "plain80", Rank.EXACT),
    ("mixed", "plain.example.com", 8443, "plain-ssl", Rank.EXACT),
    ("mixed", "unknown.test", 80, "default", Rank.DEFAULT),  # default_server
    ("mixed", "unknown.test", 8443, "plain-ssl", Rank.DEFAULT),  # first block on the port
    ("mixed", "inc.example.com", 8443, "included", Rank.EXACT),
    ("mixed", "dotted.example.net", 80, "default", Rank.DEFAULT),  # it listens on 8080 only
    ("mixed", "any.example.com", 9999, None, None),
    ("firstblock", "unknown.test", 8080, "first", Rank.DEFAULT),
    ("firstblock", "second.example.com", 8080, "second", Rank.EXACT),
    ("firstblock", "first.example.com", 8081, "third", Rank.DEFAULT),
]


@pytest.mark.parametrize(("tree", "name", "port", "expected", "rank"), LOOKUP_TABLE)
def test_nginx_lookup(tree: str, name: str, port: int, expected: str | None, rank: Rank | None) -> None:
    found = nginx_lookup(_servers(tree), name, port)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert (_block_id(found[0]), found[1]) == (expected, rank)


def test_ipv6_and_ssl_flags() -> None:
    by_id = {_block_id(s): s for s in _servers("mixed")}
    assert [li.address for li in by_id["v6"].listens] == ["", "[::]"] and not by_id["v6"].has_ssl
    assert by_id["plain-ssl"].ssl_on_port(8443) and not by_id["plain80"].has_ssl
    assert by_id["included"].ports() == {80, 8443}


def test_get_all_names_skips_regex_wildcards_and_junk() -> None:
    assert get_all_names(_servers("mixed")) == [
        "plain.example.com",
        "exact.example.org",
        "v6.example.net",
        "inc.example.com",
        "inc2.example.com",
    ]


@pytest.mark.parametrize(
    ("args", "address", "port", "ssl", "default"),
    [
        (["80"], "", 80, False, False),
        (["127.0.0.1:8080", "ssl"], "127.0.0.1", 8080, True, False),
        (["[::]:443", "ssl", "http2", "default_server"], "[::]", 443, True, True),
        (["[::1]"], "[::1]", 80, False, False),
        (["*:8000"], "", 8000, False, False),
        (["localhost"], "localhost", 80, False, False),
        (["unix:/run/x.sock"], "unix:/run/x.sock", -1, False, False),
    ],
)
def test_parse_listen(args: list[str], address: str, port: int, ssl: bool, default: bool) -> None:
    listen = parse_listen(args)
    assert (listen.address, listen.port, listen.ssl, listen.default) == (address, port, ssl, default)
