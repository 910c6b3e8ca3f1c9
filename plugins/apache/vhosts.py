"""Virtual hosts: what each one answers, and which one a name belongs to.

Selection rules (applied to the vhosts that listen on the wanted port; a
vhost address with port ``*`` or no port listens on every port):

1. a vhost whose ``ServerName`` or a ``ServerAlias`` equals the name
   (case-insensitive) beats one that matches only through a wildcard alias
   (``*.example.com``, ``www.example.*``: httpd's fnmatch patterns); among
   wildcard matches the longest pattern (the most specific) wins;
2. if no name matches, a ``_default_`` vhost is taken, and when exactly one
   vhost listens on the port, that one (it is httpd's default for it);
3. ties go to the vhost that comes first in the configuration, because
   that is the one httpd itself picks among equals.

Vhosts inside ``<Macro>`` are templates and are never chosen; vhosts that
are not enabled (a Debian ``sites-available`` file with no link) are chosen
only when no enabled one matches, and are reported as such.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from .config import ActiveNode, ApacheConfig
from .syntax import ConfFile, Node


@dataclass(frozen=True)
class Addr:
    """One ``<VirtualHost>`` address: host part and port (``*`` = any port)."""

    host: str
    port: str

    @classmethod
    def parse(cls, text: str) -> Addr:
        """``*:80``, ``1.2.3.4``, ``[::1]:443``, ``_default_:443``, ``name:80``."""
        if text.startswith("["):
            end = text.find("]")
            host = text[: end + 1]
            rest = text[end + 1 :]
            return cls(host, rest[1:] if rest.startswith(":") else "*")
        if text.count(":") > 1:  # bare IPv6 without brackets
            return cls(text, "*")
        host, _, port = text.partition(":")
        return cls(host, port or "*")

    def listens_on(self, port: int | str) -> bool:
        """Whether a request to ``port`` can reach this address (``"*"``: any port)."""
        return self.port == "*" or str(port) in ("*", self.port)

    def with_port(self, port: int) -> Addr:
        """The same host on another port (``*:80`` -> ``*:443``)."""
        return Addr(self.host, str(port))

    def __str__(self) -> str:
        return self.host if self.port == "*" and self.host != "*" else f"{self.host}:{self.port}"


@dataclass
class VirtualHost:
    """One ``<VirtualHost>`` section and the facts selection needs."""

    node: Node
    addrs: list[Addr]
    name: str | None
    aliases: list[str]
    ssl: bool
    enabled: bool
    in_macro: bool = False
    order: int = 0
    directives: list[ActiveNode] = field(default_factory=list)

    @property
    def path(self) -> Path:
        """The file that holds it."""
        return self.node.file.path

    @property
    def file(self) -> ConfFile:
        """The parsed file that holds it."""
        return self.node.file

    def names(self) -> list[str]:
        """ServerName then aliases, lower-cased, without duplicates."""
        out: list[str] = []
        for n in ([self.name] if self.name else []) + self.aliases:
            n = n.lower()
            if n not in out:
                out.append(n)
        return out

    def listens_on(self, port: int | str) -> bool:
        """Whether any of its addresses accepts ``port``."""
        return any(a.listens_on(port) for a in self.addrs)

    def describe(self) -> str:
        """One line for menus and messages."""
        label = self.name or "(no ServerName)"
        return f"{label} [{' '.join(map(str, self.addrs))}] in {self.path}:{self.node.lineno}"

    def score(self, domain: str) -> int:
        """How well ``domain`` matches: 1000 exact, 1+len(pattern) wildcard, 0 none."""
        domain = domain.lower()
        best = 0
        for n in self.names():
            if n == domain:
                return 1000
            if any(c in n for c in "*?[") and fnmatch.fnmatchcase(domain, n):
                best = max(best, 1 + len(n))
        return best


def server_name(value: str) -> str:
    """``ServerName https://example.com:443`` -> ``example.com``."""
    if "://" in value:
        value = value.split("://", 1)[1]
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.split(":", 1)[0]


def collect(config: ApacheConfig, extra_files: list[ConfFile] | None = None) -> list[VirtualHost]:
    """Every vhost httpd reads, then those of ``extra_files`` as not enabled."""
    out: list[VirtualHost] = []
    for item in config.find("VirtualHost"):
        in_macro = any(n.lname == "macro" for n in item.enclosing)
        out.append(_make(config, item.node, item.args, True, in_macro, len(out)))
    seen = {v.node.file.path for v in out}
    for conf in extra_files or []:
        if conf.path in seen:
            continue
        for node in _sections(conf.root, "virtualhost"):
            out.append(_make(config, node, list(node.args), False, False, len(out)))
    return out


def _sections(node: Node, lname: str) -> list[Node]:
    found = []
    for child in node.children:
        if child.is_section and child.lname == lname:
            found.append(child)
        elif child.is_section and child.lname != "macro":
            found.extend(_sections(child, lname))
    return found


def _make(
    config: ApacheConfig, node: Node, args: list[str], enabled: bool, in_macro: bool, order: int
) -> VirtualHost:
    inner = [a for a in config.active if node in a.enclosing]
    if not inner and not enabled:
        inner = [ActiveNode(n, list(n.args), 1, [node]) for n in _all(node)]
    name = None
    aliases: list[str] = []
    ssl = False
    for item in inner:
        lname = item.node.lname
        if lname == "servername" and item.args:
            name = server_name(item.args[0])
        elif lname == "serveralias":
            aliases.extend(item.args)
        elif lname == "sslengine" and item.args and item.args[0].lower() == "on":
            ssl = True
    addrs = [Addr.parse(a) for a in args] or [Addr("*", "*")]
    return VirtualHost(node, addrs, name, aliases, ssl, enabled, in_macro, order, inner)


def _all(node: Node) -> list[Node]:
    out = []
    for child in node.children:
        out.append(child)
        if child.is_section:
            out.extend(_all(child))
    return out


def select(vhosts: list[VirtualHost], domain: str, port: int | str) -> VirtualHost | None:
    """The vhost that should carry ``domain`` on ``port`` (rules in the module doc)."""
    candidates = [v for v in vhosts if not v.in_macro and v.listens_on(port)]
    enabled = [v for v in candidates if v.enabled]
    disabled = [v for v in candidates if not v.enabled]
    for group in (enabled, disabled):
        if group:
            best = max(group, key=lambda v: (v.score(domain), -v.order))
            if best.score(domain) > 0:
                return best
    defaults = [v for v in enabled if any(a.host == "_default_" for a in v.addrs)]
    if defaults:
        return defaults[0]
    if len(enabled) == 1:
        return enabled[0]
    return None


def all_names(vhosts: list[VirtualHost]) -> list[str]:
    """Every plain name in ServerName/ServerAlias of non-template vhosts, sorted."""
    names: set[str] = set()
    for v in vhosts:
        if v.in_macro:
            continue
        for n in v.names():
            body = n[2:] if n.startswith("*.") else n
            if (
                body
                and not any(c in body for c in "*?[]/${}")
                and ("." in body or n == "localhost")
            ):
                names.add(n)
    return sorted(names)
