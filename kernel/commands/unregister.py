"""``certkernel unregister``: deactivate the account at the CA, then forget it.

Deactivation cannot be undone, so it is asked for (default yes, so ``-n``
proceeds, as in Certbot); the local files go only once the CA said yes.
"""

from __future__ import annotations

from certkernel import errors
from certkernel.ca.acme_setup import open_account
from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.flows.account_cli import store_for


def run(config: Config) -> int:
    display = Display.from_config(config)
    store = store_for(config)
    if not store.ids():
        raise errors.AccountNotFound("Could not find existing account to deactivate.")
    if config.account and config.account not in store.ids():
        raise errors.AccountNotFound(
            f"Could not find account {config.account} for server {store.server}.")
    if not display.yesno("Are you sure you would like to irrevocably deactivate your account?",
                         yes_label="Deactivate", no_label="Abort", default=True):
        raise errors.Error("Deactivation aborted.")
    acct = open_account(config, display, create=False)
    info = acct.session.deactivate_account()
    if info.status not in (None, "deactivated"):
        raise errors.CAError(f"The CA reports the account as {info.status}, not deactivated")
    acct.store.delete(acct.account.id)
    say(config, "Account deactivated.")
    return 0
