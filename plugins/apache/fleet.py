"""Fleet mode: send the CA's http-01 requests to ``certkernel responder``.

With ``--apache-fleet-responder ADDR:PORT``, the plain-HTTP vhost and the
SSL vhost of every name the installer deploys a certificate for start with

    RewriteEngine on
    RewriteRule ^/\\.well-known/acme-challenge/([A-Za-z0-9_-]+)$ http://ADDR:PORT/.well-known/acme-challenge/$1 [P,END]

(mod_rewrite, mod_proxy and mod_proxy_http are enabled as other modules
are), so this host answers the http-01 challenges any host of the fleet
published on the shared board.

Why a rewrite with ``[P]`` rather than ``ProxyPass``: the redirect to HTTPS
this plugin (and Certbot) puts in the HTTP vhost is a ``RewriteRule``, and
mod_rewrite maps the URL before ``ProxyPass`` would, so a ``ProxyPass``
never sees the challenge path once the site redirects. A rule first in the
vhost, ending rewriting (``END``), comes before any redirect. Only token
characters are passed on; anything else stays the site's. A vhost that
already has a rule for that path is left alone, and said so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from certkernel.sdk import MisconfigurationError

from .installer import ApacheInstaller, _walk
from .vhosts import VirtualHost

PREFIX = "/.well-known/acme-challenge/"
PATTERN = "^/\\.well-known/acme-challenge/([A-Za-z0-9_-]+)$"


def upstream(value: str) -> str:
    """``ADDR:PORT`` (``[V6]:PORT``) of the responder -> the URL the rule proxies to."""
    host, sep, port = value.rpartition(":")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
        number = int(port)
    except ValueError:
        number = 0
    if not sep or not 0 < number < 65536:
        raise MisconfigurationError(
            f"--apache-fleet-responder {value}: give the responder's address as IP:PORT "
            "(e.g. 127.0.0.1:8099), where `certkernel responder --listen` listens")
    address = f"[{bare}]" if ":" in bare else bare
    return f"http://{address}:{number}{PREFIX}"


def rule(url: str) -> str:
    return f"RewriteRule {PATTERN} {url}$1 [P,END]"


def proxy_challenges(inst: ApacheInstaller, domain: str, ssl: VirtualHost, url: str,
                     log: Callable[[str, str], None]) -> None:
    """Put the proxy rule first in ``ssl`` (the vhost the certificate just went to) and in
    the plain-HTTP vhost of ``domain``, where it is missing.

    The SSL vhost is edited first, as given: a vhost the installer just
    created is not enabled until the save, so it cannot be looked up yet.
    The HTTP vhost is looked up afterwards, on the reloaded configuration.
    """
    added = _add(ssl, url, log)
    inst.config.reload()
    plain = inst.find_http_vhost(domain)
    if plain is not None and _add(plain, url, log):
        inst.config.reload()
        added = True
    if added:
        inst.enable_module("rewrite")
        inst.enable_module("proxy_http")


def _add(vhost: VirtualHost, url: str, log: Callable[[str, str], None]) -> bool:
    existing = [n for n in _walk(vhost.node)
                if n.lname == "rewriterule" and n.args[:1] == [PATTERN]]
    if existing:
        if existing[0].args[1:2] != [f"{url}$1"]:
            log("warning", f"{vhost.describe()}: already proxies {PREFIX} elsewhere; "
                "not sending challenges to certkernel responder there")
        return False
    vhost.file.append_to(vhost.node, ["RewriteEngine on", rule(url)], at_start=True)
    return True
