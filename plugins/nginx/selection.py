"""Which server block serves a name: nginx's own rules, then the installer's.

nginx picks a server for a request in two steps: the listen socket
(address:port) narrows the candidates, then the Host header is matched
against ``server_name`` — exact name first, then the longest leading
wildcard (``*.example.com``, ``.example.com``), then the longest trailing
wildcard (``www.example.*``), then the first matching regex in config
order, and finally the port's ``default_server`` (or its first block).
:func:`nginx_lookup` reproduces that; :func:`choose_for_install` ranks all
name matches the same way but, within a rank, prefers a block that already
serves TLS, as Certbot does, so a certificate lands where HTTPS is served.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum

from .nodes import Block, Directive
from .parser import NginxConfig

DEFAULT_PORT = 80


@dataclass
class Listen:
    """One ``listen`` directive, read the way nginx reads it."""

    address: str  # "" for every IPv4 address, "[::]" etc. for IPv6, "unix:..." for sockets
    port: int
    ssl: bool
    default: bool
    directive: Directive | None = None


@dataclass
class ServerBlock:
    """A ``server { }`` of the http context, with what it pulled in via includes."""

    directive: Directive
    index: int
    names: list[str] = field(default_factory=list)
    listens: list[Listen] = field(default_factory=list)
    ssl_on: bool = False  # the old ``ssl on;`` form

    @property
    def block(self) -> Block:
        assert self.directive.block is not None
        return self.directive.block

    @property
    def file(self) -> str:
        return self.directive.file

    def ports(self) -> set[int]:
        return {listen.port for listen in self.listens}

    def listens_on(self, port: int) -> bool:
        return port in self.ports()

    def ssl_on_port(self, port: int) -> bool:
        return any(li.port == port and (li.ssl or self.ssl_on) for li in self.listens)

    @property
    def has_ssl(self) -> bool:
        return self.ssl_on or any(li.ssl for li in self.listens)

    def describe(self) -> str:
        names = " ".join(self.names) or "(no server_name)"
        ports = ",".join(str(p) for p in sorted(self.ports()))
        return f"{names} [{ports}] at {self.directive.where()}"


def parse_listen(args: list[str], directive: Directive | None = None) -> Listen:
    """``listen [address][:port] [flags]`` to a :class:`Listen`."""
    spec = args[0] if args else str(DEFAULT_PORT)
    flags = set(args[1:])
    address, port = "", DEFAULT_PORT
    if spec.startswith("unix:"):
        address, port = spec, -1
    elif spec.startswith("["):
        close = spec.find("]")
        address = spec[: close + 1]
        rest = spec[close + 1 :]
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif spec.isdigit():
        port = int(spec)
    elif ":" in spec:
        host, _, p = spec.rpartition(":")
        address = "" if host == "*" else host
        port = int(p) if p.isdigit() else DEFAULT_PORT
    else:
        address = "" if spec == "*" else spec
    return Listen(
        address=address,
        port=port,
        ssl="ssl" in flags,
        default="default_server" in flags or "default" in flags,
        directive=directive,
    )


def _server_directives(config: NginxConfig, block: Block) -> Iterator[Directive]:
    """Every directive of a server block, includes expanded, nested blocks skipped."""
    yield from config.expand(block)


def server_blocks(config: NginxConfig) -> list[ServerBlock]:
    """All ``server`` blocks of every ``http`` context, in the order nginx reads them."""
    found: list[ServerBlock] = []
    for top in config.expand(config.root_block):
        if top.name != "http" or top.block is None:
            continue
        for child in config.expand(top.block):
            if child.name == "server" and child.block is not None:
                found.append(_read_server(config, child, len(found)))
    return found


def _read_server(config: NginxConfig, directive: Directive, index: int) -> ServerBlock:
    assert directive.block is not None
    server = ServerBlock(directive=directive, index=index)
    for child in _server_directives(config, directive.block):
        if child.name == "server_name":
            server.names.extend(a.lower() if not a.startswith("~") else a for a in child.args)
        elif child.name == "listen":
            server.listens.append(parse_listen(child.args, child))
        elif child.name == "ssl" and child.args == ["on"]:
            server.ssl_on = True
    if not server.listens:
        server.listens.append(Listen(address="", port=DEFAULT_PORT, ssl=False, default=False))
    return server


class Rank(IntEnum):
    """How a name matched, best first (nginx's order)."""

    EXACT = 0
    LEADING_WILDCARD = 1
    TRAILING_WILDCARD = 2
    REGEX = 3
    DEFAULT = 4


def _pcre_to_python(pattern: str) -> str:
    """PCRE named groups ``(?<n>`` / ``(?'n'`` to Python's ``(?P<n>``."""
    pattern = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", pattern)
    return re.sub(r"\(\?'([A-Za-z_]\w*)'", r"(?P<\1>", pattern)


def match_name(pattern: str, name: str) -> tuple[Rank, int] | None:
    """How ``pattern`` (a server_name value) matches ``name``; the int breaks ties.

    For wildcards the int is minus the length of the fixed part (longer is
    better); for regexes it is 0 (order decides).
    """
    name = name.lower().rstrip(".")
    if pattern.startswith("~"):
        try:
            regex = re.compile(_pcre_to_python(pattern[1:]), re.IGNORECASE)
        except re.error:
            return None
        return (Rank.REGEX, 0) if regex.search(name) else None
    pattern = pattern.lower()
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return (Rank.LEADING_WILDCARD, -len(suffix)) if name.endswith(suffix) else None
    if pattern.startswith("."):
        if name == pattern[1:] or name.endswith(pattern):
            return (Rank.LEADING_WILDCARD, -len(pattern))
        return None
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        return (Rank.TRAILING_WILDCARD, -len(prefix)) if name.startswith(prefix) else None
    return (Rank.EXACT, 0) if pattern == name else None


def best_match(server: ServerBlock, name: str) -> tuple[Rank, int] | None:
    """The best way any of the block's names matches ``name``."""
    matches = [m for m in (match_name(p, name) for p in server.names) if m is not None]
    return min(matches) if matches else None


def nginx_lookup(servers: list[ServerBlock], name: str, port: int) -> tuple[ServerBlock, Rank] | None:
    """The block nginx itself uses for ``Host: name`` on ``port``, or None if none listens."""
    on_port = [s for s in servers if s.listens_on(port)]
    if not on_port:
        return None
    ranked = []
    for server in on_port:
        match = best_match(server, name)
        if match is not None:
            ranked.append((match, server.index, server))
    if ranked:
        (rank, _), _, server = min(ranked, key=lambda t: (t[0], t[1]))
        return server, rank
    for server in on_port:
        if any(li.port == port and li.default for li in server.listens):
            return server, Rank.DEFAULT
    return on_port[0], Rank.DEFAULT


def choose_for_install(
    servers: list[ServerBlock], name: str, https_port: int
) -> tuple[ServerBlock, Rank] | None:
    """The block to put the certificate for ``name`` in, or None when no name matches.

    Rank first (exact, wildcards by length, regex by order); within a rank a
    block serving TLS on the https port wins, then any TLS block, then config order.
    """
    ranked = []
    for server in servers:
        match = best_match(server, name)
        if match is None:
            continue
        key = (match, not server.ssl_on_port(https_port), not server.has_ssl, server.index)
        ranked.append((key, server))
    if not ranked:
        return None
    key, server = min(ranked, key=lambda t: t[0])
    return server, key[0][0]


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def valid_hostname(name: str) -> bool:
    """A name a CA could issue for: dotted, DNS labels, no wildcard, not an IP."""
    if len(name) > 253 or "." not in name:
        return False
    labels = name.split(".")
    if all(label.isdigit() for label in labels):
        return False
    return all(_LABEL.match(label) for label in labels)


def get_all_names(servers: list[ServerBlock]) -> list[str]:
    """Every issuable server_name, in config order, without regexes, wildcards or junk."""
    seen: dict[str, None] = {}
    for server in servers:
        for name in server.names:
            if name.startswith("~"):
                continue
            if valid_hostname(name):
                seen.setdefault(name, None)
    return list(seen)
