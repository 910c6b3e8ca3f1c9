"""What the account commands share: where accounts live, e-mail lists, output.

Looking at the account store needs no ACME import, so ``register`` can refuse
a duplicate and ``unregister`` can say there is nothing to deactivate without
paying for the ACME stack.
"""

from __future__ import annotations

from certkernel.ca.accounts import AccountStore
from certkernel.ca.acme_setup import effective_server
from certkernel.config import Config


def store_for(config: Config) -> AccountStore:
    """The account store of the server this run talks to."""
    return AccountStore(config.config_dir, effective_server(config))


def split_emails(text: str | None) -> list[str]:
    """``-m a@x,b@y`` as a list; blanks dropped."""
    return [e.strip() for e in (text or "").split(",") if e.strip()]


def emails_of(contacts: tuple[str, ...] | list[str]) -> list[str]:
    """The e-mail addresses among an account's contact URIs."""
    return [c[len("mailto:"):] for c in contacts if c.startswith("mailto:")]
