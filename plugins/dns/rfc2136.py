"""RFC 2136 dynamic updates signed with TSIG (dnspython), e.g. against BIND.

Credentials INI keys, as in Certbot: ``dns_rfc2136_server`` (an IP address),
``dns_rfc2136_port`` (default 53), ``dns_rfc2136_name`` (TSIG key name),
``dns_rfc2136_secret`` (base64), ``dns_rfc2136_algorithm`` (default
HMAC-MD5, Certbot's default). The zone is found by asking the server for the
SOA of each candidate name with the same key, so a wrong key fails before
anything is written.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update

from certkernel.plugins.dns.credentials import Credentials, CredentialSpec
from certkernel.plugins.dns.lookup import Nameserver
from certkernel.plugins.dns.names import zone_candidates
from certkernel.sdk import PluginError

log = logging.getLogger(__name__)

PROVIDER = "rfc2136"
CREDENTIALS = CredentialSpec(
    required=("server", "name", "secret"), optional=("port", "algorithm")
)
DEFAULT_ALGORITHM = "HMAC-MD5"
ALGORITHMS: dict[str, dns.name.Name] = {
    "HMAC-MD5": dns.tsig.HMAC_MD5,
    "HMAC-SHA1": dns.tsig.HMAC_SHA1,
    "HMAC-SHA224": dns.tsig.HMAC_SHA224,
    "HMAC-SHA256": dns.tsig.HMAC_SHA256,
    "HMAC-SHA384": dns.tsig.HMAC_SHA384,
    "HMAC-SHA512": dns.tsig.HMAC_SHA512,
}
TTL = 60
TIMEOUT = 10.0


@dataclass(frozen=True)
class Rfc2136Config:
    """Checked connection settings; built only through :func:`parse_config`."""

    server: Nameserver
    key: dns.tsig.Key


def parse_config(creds: Credentials) -> Rfc2136Config:
    """Validate every value and report all problems in one message."""
    problems: list[str] = []
    server = creds.get("server")
    try:
        ipaddress.ip_address(server)
    except ValueError:
        problems.append(f"dns_rfc2136_server must be an IP address, not {server!r}")
    port_text = creds.get("port", "53")
    port = 53
    try:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        problems.append(f"dns_rfc2136_port must be a port number, not {port_text!r}")
    algo_text = creds.get("algorithm", DEFAULT_ALGORITHM).upper()
    algorithm = ALGORITHMS.get(algo_text)
    if algorithm is None:
        problems.append(
            f"dns_rfc2136_algorithm {algo_text!r} is unknown (use one of {', '.join(ALGORITHMS)})"
        )
    secret = creds.get("secret")
    try:
        base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        problems.append("dns_rfc2136_secret is not valid base64")
    try:
        key_name = dns.name.from_text(creds.get("name"))
    except dns.exception.DNSException:
        problems.append(f"dns_rfc2136_name {creds.get('name')!r} is not a valid key name")
    if problems:
        raise PluginError(f"dns-rfc2136: bad credentials: {'; '.join(problems)}")
    return Rfc2136Config(
        Nameserver(server, port), dns.tsig.Key(key_name, secret, algorithm or dns.tsig.HMAC_MD5)
    )


class Rfc2136Backend:
    """TXT records through signed UPDATE messages to one primary server."""

    provider = PROVIDER

    def __init__(self, config: Rfc2136Config) -> None:
        self.config = config

    # -- RecordBackend ----------------------------------------------------

    def lookup_servers(self) -> list[Nameserver]:
        return [self.config.server]

    def authoritative_servers(self, zone: str) -> list[Nameserver]:
        return [self.config.server]

    def find_zone(self, fqdn: str) -> str:
        tried: list[str] = []
        for candidate in zone_candidates(fqdn):
            tried.append(candidate)
            if self._is_zone_apex(candidate):
                return candidate
        raise PluginError(
            f"dns-rfc2136: the server {self.config.server} is not authoritative for any zone "
            f"holding {fqdn} (asked for the SOA of {', '.join(tried)})"
        )

    def add_txt(self, zone: str, fqdn: str, value: str) -> None:
        update = self._update(zone)
        update.add(dns.name.from_text(fqdn), TTL, self._rdata(value))
        self._send(update, f"add TXT {fqdn}", zone)

    def remove_txt(self, zone: str, fqdn: str, value: str) -> None:
        update = self._update(zone)
        update.delete(dns.name.from_text(fqdn), self._rdata(value))
        self._send(update, f"remove TXT {fqdn}", zone)

    # -- internals --------------------------------------------------------

    def _keyring(self) -> dict[dns.name.Name, dns.tsig.Key]:
        return {self.config.key.name: self.config.key}

    def _update(self, zone: str) -> dns.update.UpdateMessage:
        return dns.update.UpdateMessage(
            zone, keyring=self._keyring(), keyname=self.config.key.name,
            keyalgorithm=self.config.key.algorithm,
        )

    @staticmethod
    def _rdata(value: str) -> dns.rdtypes.ANY.TXT.TXT:
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [value.encode()])

    def _is_zone_apex(self, candidate: str) -> bool:
        query = dns.message.make_query(dns.name.from_text(candidate), dns.rdatatype.SOA)
        query.use_tsig(self._keyring(), keyname=self.config.key.name,
                       algorithm=self.config.key.algorithm)
        response = self._exchange(query, f"SOA query for {candidate}")
        rcode = response.rcode()
        if rcode == dns.rcode.NOTAUTH:
            raise self._key_rejected("NOTAUTH")
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            log.debug("SOA %s: %s", candidate, dns.rcode.to_text(rcode))
            return False
        owner = dns.name.from_text(candidate)
        return bool(response.flags & dns.flags.AA) and any(
            rr.rdtype == dns.rdatatype.SOA and rr.name == owner for rr in response.answer
        )

    def _send(self, update: dns.update.UpdateMessage, what: str, zone: str) -> None:
        response = self._exchange(update, what)
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        if rcode == dns.rcode.NOTAUTH:
            raise self._key_rejected("NOTAUTH")
        if rcode == dns.rcode.REFUSED:
            raise PluginError(
                f"dns-rfc2136: {self.config.server} refused to {what} in zone {zone}: the key "
                f"{self.config.key.name.to_text(True)} may not update it (check update-policy)"
            )
        raise PluginError(
            f"dns-rfc2136: {self.config.server} answered {dns.rcode.to_text(rcode)} to {what}"
        )

    def _exchange(self, message: dns.message.Message, what: str) -> dns.message.Message:
        server = self.config.server
        try:
            return dns.query.tcp(message, server.address, port=server.port, timeout=TIMEOUT)
        except (dns.tsig.PeerBadKey, dns.tsig.PeerBadSignature, dns.tsig.PeerBadTime,
                dns.tsig.PeerBadTruncation) as exc:
            raise self._key_rejected(type(exc).__name__.replace("Peer", "")) from exc
        except dns.message.UnknownTSIGKey as exc:
            raise self._key_rejected("unknown key") from exc
        except dns.tsig.BadSignature as exc:
            raise self._key_rejected("bad signature on the answer") from exc
        except dns.exception.Timeout as exc:
            raise PluginError(
                f"dns-rfc2136: no answer from {server} within {TIMEOUT:g}s ({what})"
            ) from exc
        except (OSError, dns.exception.DNSException) as exc:
            raise PluginError(f"dns-rfc2136: {what} at {server} failed: {exc}") from exc

    def _key_rejected(self, detail: str) -> PluginError:
        return PluginError(
            f"dns-rfc2136: the server {self.config.server} rejected TSIG key "
            f"{self.config.key.name.to_text(True)!r} ({detail}); check dns_rfc2136_name, "
            "dns_rfc2136_secret and dns_rfc2136_algorithm in the credentials file"
        )
