"""``python -m certkernel.plugins.dns <provider>``: serve one DNS authenticator.

The provider's code is imported only inside ``serve`` (after stdout is
protected), so nothing a library prints at import can reach the protocol.
"""

from __future__ import annotations

import logging
import sys

from certkernel.sdk import serve

KNOWN = ("rfc2136", "cloudflare", "cloudxns", "digitalocean", "dnsimple", "dnsmadeeasy",
         "gehirn", "linode", "luadns", "nsone", "ovh", "sakuracloud", "route53", "google")


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in KNOWN:
        sys.stderr.write(f"usage: python -m certkernel.plugins.dns {{{','.join(KNOWN)}}}\n")
        raise SystemExit(2)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    serve(f"certkernel.plugins.dns.plugin:{argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
