"""DNS authenticators (dns-01): RFC 2136 and the HTTP-API provider family.

One package, one process per provider (``python -m certkernel.plugins.dns
<provider>``). The common core does what Certbot's users asked for: zone
guessing, CNAME delegation of ``_acme-challenge``, several TXT values on one
name, propagation by polling the authoritative servers, and cleanup of every
record it added, also after failures. See ``README.md`` in this folder.
"""
