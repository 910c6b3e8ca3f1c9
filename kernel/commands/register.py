"""``certkernel register``: create an ACME account without obtaining anything.

Like Certbot, a second account for the same server is refused: the other
commands pick "the only account" without asking, which a duplicate would
break.
"""

from __future__ import annotations

from certkernel import errors
from certkernel.ca.acme_setup import register
from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.flows.account_cli import store_for

DUPLICATE = ("There is an existing account; registration of a duplicate account with this "
             "command is currently unsupported.")


def run(config: Config) -> int:
    display = Display.from_config(config)
    store = store_for(config)
    if store.ids():
        raise errors.AccountError(DUPLICATE)
    acct = register(config, display)
    say(config, f"Account registered.\nAccount ID: {acct.account.id}\n"
                f"Account URL: {acct.account.uri}")
    return 0
