"""From a Config to a ready ACME session with an account.

Which server (``--server``, ``--staging``, ``--dry-run``), how to trust it
(``--ca-bundle``, ``REQUESTS_CA_BUNDLE``, ``--no-verify-ssl``), and which
account: the one named by ``--account``, the only one there is, a choice
when there are several, or a new registration with Certbot's questions
(e-mail, terms of service) answerable by flags in non-interactive runs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certkernel import errors
from certkernel.ca.accounts import Account, AccountMeta, AccountStore, new_account_key
from certkernel.ca.acme_session import AcmeSession, SessionSettings
from certkernel.config import Config
from certkernel.display import Display
from certkernel.lock import account_lock, held
from certkernel.version import __version__

if TYPE_CHECKING:
    from certkernel.ca.accounts import Account, AccountStore
    from certkernel.ca.acme_session import AcmeSession, SessionSettings

logger = logging.getLogger(__name__)

LE_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"


def effective_server(config: Config) -> str:
    """The directory URL this run talks to; test runs go to staging by default."""
    if config.is_set("server"):
        return config.server
    if config.staging or config.dry_run:
        return LE_STAGING
    return config.server


def user_agent(config: Config) -> str:
    if config.user_agent:
        return config.user_agent
    base = f"CertKernel/{__version__} (certonly; +https://example.invalid/certkernel)"
    if config.user_agent_comment:
        base += f" ({config.user_agent_comment})"
    return base


def session_settings(config: Config) -> SessionSettings:
    verify: bool | str = True
    if config.no_verify_ssl:
        verify = False
        # The operator asked for it: urllib3's warning on every request would fill
        # a cron job's mail (hundreds per renew), and say nothing new.
        warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    elif config.ca_bundle:
        verify = config.ca_bundle
    elif os.environ.get("REQUESTS_CA_BUNDLE"):
        verify = os.environ["REQUESTS_CA_BUNDLE"]
    if isinstance(verify, str) and not os.path.isfile(verify):
        raise errors.ConfigurationError(f"--ca-bundle: {verify} is not a file")
    return SessionSettings(server=effective_server(config), verify=verify,
                           user_agent=user_agent(config),
                           poll_timeout=float(config.issuance_timeout),
                           preferred_profile=config.preferred_profile,
                           required_profile=config.required_profile)


@dataclass
class AccountSession:
    """A session bound to an account, and where that account is kept."""

    session: AcmeSession
    account: Account
    store: AccountStore


def _has_accounts(config_dir: str) -> bool:
    """Whether any account is stored, for any server."""
    try:
        with os.scandir(os.path.join(config_dir, "accounts")) as entries:
            return any(True for _ in entries)
    except OSError:
        return False


def _emails(config: Config) -> list[str]:
    return [e.strip() for e in (config.email or "").split(",") if e.strip()]


def choose_account(config: Config, store: AccountStore, display: Display) -> Account | None:
    """The account to use for this server, or None when there is none yet."""
    if config.account:
        return store.load(config.account)
    accounts = store.list()
    if not accounts:
        return None
    if len(accounts) == 1:
        return accounts[0]
    ok, index = display.menu(
        "Please choose an account", [a.slug for a in accounts], default=0, cli_flag="--account"
    )
    if not ok:
        raise errors.AccountError("No account chosen")
    return accounts[index]


def _ask_email(config: Config, display: Display) -> list[str]:
    emails = _emails(config)
    if emails or config.register_unsafely_without_email:
        return emails
    if not display.interactive:
        raise errors.MissingFlag(
            "You should register before running non-interactively, or provide --agree-tos "
            "and --email <email_address> flags (or --register-unsafely-without-email)."
        )
    ok, text = display.input(
        "Enter email address (used for urgent renewal and security notices)",
        cli_flag="--email",
    )
    if not ok or not text.strip():
        raise errors.AccountError(
            "An e-mail address or --register-unsafely-without-email is needed to register"
        )
    return [e.strip() for e in text.split(",") if e.strip()]


def register(config: Config, display: Display, *, save: bool = True) -> AccountSession:
    """Make a new account key, agree to the terms, register, and store it."""
    settings = session_settings(config)
    emails = _ask_email(config, display)
    key = new_account_key("ecdsa")
    session = AcmeSession(settings, key)
    agreed = config.tos
    if not agreed:
        tos = session.terms_of_service
        agreed = display.yesno(
            f"Please read the Terms of Service at {tos or settings.server}. You must agree in "
            "order to register with the ACME server. Do you agree?",
            yes_label="Agree", no_label="Cancel", cli_flag="--agree-tos",
        )
        if not agreed:
            raise errors.AccountError(
                "Registration cannot proceed without accepting the Terms of Service."
            )
    info = session.register(emails=emails, agree_tos=agreed, eab_kid=config.eab_kid,
                            eab_hmac_key=config.eab_hmac_key, eab_hmac_alg=config.eab_hmac_alg)
    eff = None if config.eff_email is None else str(config.eff_email).lower()
    account = Account(key=key, uri=info.uri, meta=AccountMeta.now(eff))
    store = AccountStore(config.config_dir, settings.server)
    if save:
        store.save(account)
        logger.info("Account registered: %s", account.id)
    return AccountSession(session, account, store)


def open_account(config: Config, display: Display, *, create: bool = True) -> AccountSession:
    """A session for the account this run uses, registering one when allowed."""
    settings = session_settings(config)
    store = AccountStore(config.config_dir, settings.server)
    account = choose_account(config, store, display)
    if account is None:
        if not create:
            raise errors.AccountNotFound(
                f"Could not find an existing account for server {settings.server}."
            )
        return _register_once(config, display, store, settings.server)
    session = AcmeSession(settings, account.key, account_uri=account.uri)
    return AccountSession(session, account, store)


def _register_once(config: Config, display: Display, store: AccountStore,
                   server: str) -> AccountSession:
    """Register under the server's account lock, unless a run that held it first did.

    Two first runs at once (cron's renew and an operator's certonly, or two
    certonly) would otherwise each register an account. After the lock is
    ours the accounts are read again: one that appeared meanwhile is used.
    """
    with held(account_lock(config.config_dir, server, config.lock_timeout)):
        account = choose_account(config, store, display)
        if account is not None:
            session = AcmeSession(session_settings(config), account.key,
                                  account_uri=account.uri)
            return AccountSession(session, account, store)
        if config.dry_run and _has_accounts(config.config_dir):
            # Certbot's rule: someone with an account elsewhere (production)
            # is not asked the registration questions again for a dry run.
            config = dataclasses.replace(
                config, tos=True,
                register_unsafely_without_email=config.register_unsafely_without_email
                or not _emails(config))
        # A dry run keeps the account it registers, as Certbot does: the next
        # dry run (and a later real run against that server) reuses it.
        return register(config, display)
