"""Plain DNS questions the core asks: where a CNAME leads, who is authoritative, what TXT is served.

Every query is bounded (a short timeout per server, few servers, few hops),
because a DNS plugin that hangs on an unreachable resolver is worse than one
that falls back to waiting. Failures return "unknown" rather than raising:
these lookups improve on Certbot's blind sleep, they are never a reason to
fail an issuance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

log = logging.getLogger(__name__)

MAX_CNAME_HOPS = 8


@dataclass(frozen=True)
class Nameserver:
    """One server to ask, by address (never a host name) and port."""

    address: str
    port: int = 53

    def __str__(self) -> str:
        return f"{self.address}:{self.port}" if self.port != 53 else self.address


def system_nameservers() -> list[Nameserver]:
    """The resolvers from /etc/resolv.conf, or none when it cannot be read."""
    try:
        resolver = dns.resolver.Resolver(configure=True)
    except (dns.resolver.NoResolverConfiguration, OSError):
        return []
    return [Nameserver(str(ns), int(resolver.port)) for ns in resolver.nameservers]


def ask(
    servers: list[Nameserver], name: str, rdtype: str, timeout: float = 2.0
) -> dns.message.Message | None:
    """The first usable answer from ``servers`` (UDP, TCP when truncated), or None."""
    query = dns.message.make_query(dns.name.from_text(name), dns.rdatatype.from_text(rdtype))
    for server in servers:
        try:
            response = dns.query.udp(query, server.address, port=server.port, timeout=timeout)
            if response.flags & dns.flags.TC:
                response = dns.query.tcp(query, server.address, port=server.port, timeout=timeout)
        except (OSError, dns.exception.DNSException) as exc:
            log.debug("%s %s at %s failed: %s", name, rdtype, server, exc)
            continue
        if response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return response
        log.debug("%s %s at %s: %s", name, rdtype, server, dns.rcode.to_text(response.rcode()))
    return None


def follow_cname(servers: list[Nameserver], name: str) -> str:
    """Where ``name`` really lives: the end of its CNAME chain (``name`` itself if none).

    Users delegate ``_acme-challenge.example.com`` to a zone their automation
    may write (``CNAME example.com.acme.example.net.``); the record must then be
    created at the target, in the target's zone.
    """
    current = name.rstrip(".").lower()
    seen = {current}
    for _ in range(MAX_CNAME_HOPS):
        response = ask(servers, current + ".", "CNAME")
        if response is None:
            return current
        target = _cname_target(response, current)
        if target is None:
            return current
        if target in seen:
            log.warning("CNAME loop at %s; using %s", target, current)
            return current
        log.info("%s is a CNAME to %s", current, target)
        seen.add(target)
        current = target
    return current


def _cname_target(response: dns.message.Message, owner: str) -> str | None:
    owner_name = dns.name.from_text(owner)
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == owner_name:
            for rdata in rrset:
                return str(rdata.target).rstrip(".").lower()
    return None


def txt_values(server: Nameserver, name: str, timeout: float = 2.0) -> set[str] | None:
    """The TXT strings ``server`` serves for ``name``; None if it could not be asked."""
    response = ask([server], name.rstrip(".") + ".", "TXT", timeout=timeout)
    if response is None:
        return None
    owner = dns.name.from_text(name)
    values: set[str] = set()
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.TXT and rrset.name == owner:
            for rdata in rrset:
                values.add(b"".join(rdata.strings).decode("utf-8", "replace"))
    return values


def authoritative_servers(resolvers: list[Nameserver], zone: str) -> list[Nameserver]:
    """Addresses of the zone's NS hosts, found through ``resolvers`` (port 53)."""
    response = ask(resolvers, zone.rstrip(".") + ".", "NS")
    if response is None:
        return []
    hosts: list[str] = []
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.NS:
            hosts.extend(str(r.target) for r in rrset)
    found: list[Nameserver] = []
    for host in hosts[:6]:
        for rdtype in ("A", "AAAA"):
            addr = ask(resolvers, host, rdtype)
            if addr is None:
                continue
            for rrset in addr.answer:
                if rrset.rdtype == dns.rdatatype.from_text(rdtype):
                    found.extend(Nameserver(str(r.address)) for r in rrset)
    return list(dict.fromkeys(found))


class PublicLookup:
    """The lookup half of a RecordBackend whose records are changed through an API.

    Hosted-DNS backends (lexicon providers, Route 53, Cloud DNS) change records
    over HTTP but are checked in public DNS: CNAMEs are followed and NS hosts
    found through the system's resolvers (or ``resolvers``, which tests point
    at a local server). The resolvers are read once, on first use.
    """

    def __init__(self, resolvers: list[Nameserver] | None = None) -> None:
        self._resolvers = resolvers

    def lookup_servers(self) -> list[Nameserver]:
        if self._resolvers is None:
            self._resolvers = system_nameservers()
        return self._resolvers

    def authoritative_servers(self, zone: str) -> list[Nameserver]:
        return authoritative_servers(self.lookup_servers(), zone)
