"""``certkernel update_account``: replace the account's contact e-mails at the CA.

Certbot's rules: the new addresses come from ``-m`` (comma-separated) or are
asked for; ``-m ""`` removes every contact. The saved ``regr.json`` is
rewritten so the account stays usable by Certbot and by us.
"""

from __future__ import annotations

from certkernel import errors
from certkernel.ca.acme_setup import open_account
from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.flows.account_cli import emails_of, split_emails, store_for


def _new_emails(config: Config, display: Display) -> list[str]:
    if config.email is not None:
        return split_emails(config.email)
    if config.register_unsafely_without_email:
        raise errors.ConfigurationError(
            "--register-unsafely-without-email provided, however, a new e-mail address must "
            "currently be provided when updating a registration.")
    ok, text = display.input("Enter email address (used for urgent renewal and security "
                             "notices)", cli_flag="--email")
    emails = split_emails(text)
    if not ok or not emails:
        raise errors.AccountError("An e-mail address is needed to update the account.")
    return emails


def run(config: Config) -> int:
    display = Display.from_config(config)
    if not store_for(config).ids():
        raise errors.AccountNotFound("Could not find an existing account to update.")
    emails = _new_emails(config, display)
    acct = open_account(config, display, create=False)
    info = acct.session.update_contacts(emails)
    acct.store.save_regr(acct.account)
    got = emails_of(info.contacts)
    if sorted(got) != sorted(emails):
        raise errors.CAError(
            f"The CA kept the contacts {', '.join(got) or 'none'} instead of {', '.join(emails)}")
    if emails:
        say(config, f"Your e-mail address was updated to {','.join(emails)}.")
    else:
        say(config, "Any contact information associated with this account has been removed.")
    return 0
