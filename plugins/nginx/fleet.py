"""Fleet mode: send the CA's http-01 requests to ``certkernel responder``.

With ``--nginx-fleet-responder ADDR:PORT``, every server block the
installer deploys a certificate for (the block nginx uses for the name on
the HTTP port, and its TLS block) gets

    location ^~ /.well-known/acme-challenge/ {
        proxy_pass http://ADDR:PORT;
    }

so that a challenge any host of the fleet published is answered here too,
by the responder that reads the shared board. ``^~`` makes it win over the
site's regex locations; the exact-match location the nginx authenticator
adds for its own challenges still wins over it. A block that already has a
location for that prefix is left as it is (the site decided), and said so.

Why ``proxy_pass`` without a URI part: the request path reaches the
responder unchanged, and the responder itself refuses anything but a
token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from certkernel.sdk import MisconfigurationError

from . import edits
from .nodes import Block

PREFIX = "/.well-known/acme-challenge/"


def upstream(value: str) -> str:
    """``ADDR:PORT`` (``[V6]:PORT``) of the responder -> the ``proxy_pass`` URL."""
    host, sep, port = value.rpartition(":")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
        number = int(port)
    except ValueError:
        number = 0
    if not sep or not 0 < number < 65536:
        raise MisconfigurationError(
            f"--nginx-fleet-responder {value}: give the responder's address as IP:PORT "
            "(e.g. 127.0.0.1:8099), where `certkernel responder --listen` listens")
    address = f"[{bare}]" if ":" in bare else bare
    return f"http://{address}:{number}"


def _own_location(block: Block) -> tuple[bool, str]:
    """(already there, where) for a location of the challenge prefix in ``block``."""
    for child in edits.find(block, "location"):
        if PREFIX in child.args[-1:]:
            ours = child.block is not None and bool(edits.find(child.block, "proxy_pass"))
            return ours, child.where()
    return False, ""


def proxy_challenges(block: Block, url: str, log: Callable[[str, str], None]) -> bool:
    """Add the proxy location to ``block`` unless one for the prefix is there; True if added."""
    ours, where = _own_location(block)
    if where:
        if not ours:
            log("warning", f"{where}: the site has its own location for {PREFIX}; not sending "
                "challenges to certkernel responder there")
        return False
    inner = edits.block_of(block, ("proxy_pass", url), parent=block)
    location = edits.make(block, "location", "^~", PREFIX, sub=inner)
    location.gaps[0] = location.gaps[0] + edits.MARK + location.gaps[0]
    edits.insert(block, location)
    return True
