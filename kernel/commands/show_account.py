"""``certkernel show_account``: what the CA knows about the account (Certbot's format)."""

from __future__ import annotations

import json
import sys

from certkernel import errors
from certkernel.ca.acme_setup import open_account
from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.flows.account_cli import emails_of, store_for


def run(config: Config) -> int:
    display = Display.from_config(config)
    store = store_for(config)
    if not store.ids():
        raise errors.AccountNotFound(
            f"Could not find an existing account for server {store.server}.")
    acct = open_account(config, display, create=False)
    info = acct.session.query_account()
    emails = emails_of(info.contacts)
    if config.json:
        sys.stdout.write(json.dumps({
            "schema": "certkernel.account/1", "server": acct.session.settings.server,
            "account_url": info.uri, "account_id": acct.account.id,
            "contacts": list(info.contacts), "emails": emails,
            "status": info.status,
        }, indent=2) + "\n")
        return 0
    plural = "s" if len(emails) > 1 else ""
    say(config, "\n".join([
        f"Account details for server {acct.session.settings.server}:",
        f"  Account URL: {info.uri}",
        f"  Account ID: {acct.account.id}",
        f"  Email contact{plural}: {', '.join(emails) if emails else 'none'}",
    ]))
    return 0
