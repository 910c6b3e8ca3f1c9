"""The text shown to a user who publishes challenges by hand (Certbot's wording).

Kept apart so the wording users know from Certbot's docs and forum posts
stays in one place.
"""

from __future__ import annotations

from certkernel.sdk import Challenge

_HTTP = (
    "Create a file containing just this data:\n\n{validation}\n\n"
    "And make it available on your web server at this URL:\n\n{url}"
)
_DNS = (
    "Please deploy a DNS TXT record under the name:\n\n{name}.\n\n"
    "with the following value:\n\n{validation}"
)
_DNS_CHECK = (
    "\n\nBefore continuing, verify the TXT record has been deployed. Depending on the DNS "
    "provider, this may take some time, from a few seconds to multiple minutes."
)
_SUBSEQUENT = (
    "\n\n(This must be set up in addition to the previous challenges; do not remove, replace, "
    "or undo the previous challenge tasks yet. Note that you might be asked to create multiple "
    "distinct TXT records with the same name. This is permitted by DNS standards.)"
)


def _host(identifier: str, identifier_type: str) -> str:
    return f"[{identifier}]" if identifier_type == "ip" and ":" in identifier else identifier


def text(chall: Challenge, shown_before: int) -> str:
    """What to publish for ``chall``; ``shown_before`` counts earlier instructions."""
    if chall.type == "dns-01":
        name = chall.validation_domain_name or f"_acme-challenge.{chall.identifier}"
        message = _DNS.format(name=name.rstrip("."), validation=chall.validation)
    else:
        path = chall.uri_path or f"/.well-known/acme-challenge/{chall.token}"
        url = f"http://{_host(chall.identifier, chall.identifier_type)}{path}"
        message = _HTTP.format(validation=chall.validation, url=url)
    if shown_before:
        message += _SUBSEQUENT
    if chall.type == "dns-01":
        message += _DNS_CHECK
    return message
