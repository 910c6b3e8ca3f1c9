"""``certkernel revoke``: revoke at the CA, then delete the lineage or remember it.

The certificate comes from ``--cert-path`` or ``--cert-name`` (exactly one).
It is revoked with the account key, or with the certificate's own key
(``--key-path``, checked against the certificate first). Then Certbot's
question: delete the lineage with all its versions? ``--delete-after-revoke``
/ ``--no-delete-after-revoke`` answer it; with ``-n`` the answer is yes. A
kept lineage has the revocation recorded so ``certificates`` shows it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re

from certkernel import crypto, errors
from certkernel.ca import revocations
from certkernel.ca.accounts import AccountStore
from certkernel.ca.acme_session import AcmeSession
from certkernel.ca.acme_setup import effective_server, open_account, session_settings
from certkernel.config import REVOCATION_REASONS, Config
from certkernel.display import Display, say
from certkernel.lineages.lineage_delete import delete_lineages
from certkernel.lineages.lineage_find import scan
from certkernel.lineages.named_lineage import lineage_config
from certkernel.lineages.storage import Lineage

logger = logging.getLogger(__name__)

_ARCHIVED = re.compile(r"^(cert|fullchain)\d+\.pem$")


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise errors.ConfigurationError(f"cannot read {what} {path}: {exc.strerror}") from None


def cert_path_of(config: Config) -> str:
    if bool(config.cert_path) == bool(config.certname):
        raise errors.ConfigurationError(
            "Error! Exactly one of --cert-path or --cert-name must be specified!")
    if config.cert_path:
        return config.cert_path
    assert config.certname is not None
    conf = os.path.join(config.config_dir, "renewal", f"{config.certname}.conf")
    if not os.path.exists(conf):
        raise errors.CertStorageError(
            f"No certificate found with name {config.certname} (expected {conf}).")
    return Lineage.load(config.config_dir, config.certname).cert_path


def lineage_of(config: Config, cert_path: str) -> Lineage | None:
    """The lineage holding ``cert_path`` (a live link or an archived version), if any."""
    real = os.path.realpath(cert_path)
    for lineage in scan(config.config_dir, repair=False).lineages:
        if config.certname and lineage.name == config.certname:
            return lineage
        if real in (os.path.realpath(lineage.cert_path), os.path.realpath(lineage.fullchain_path)):
            return lineage
        if (os.path.dirname(real) == os.path.realpath(lineage.archive_dir)
                and _ARCHIVED.match(os.path.basename(real))):
            return lineage
    return None


def _session(config: Config, display: Display, cert_pem: bytes) -> AcmeSession:
    if not config.key_path:
        return open_account(config, display, create=False).session

    key_pem = _read(config.key_path, "key file")
    if not crypto.key_matches_cert(key_pem, cert_pem):
        raise errors.ValidationError(
            f"The key {config.key_path} does not match the certificate {config.cert_path or ''}"
            .rstrip())
    return AcmeSession.with_certificate_key(session_settings(config), key_pem)


def _after(config: Config, display: Display, lineage: Lineage | None, serial: int) -> None:
    if lineage is None:
        return
    delete = config.delete_after_revoke
    if delete is None:
        delete = display.yesno(
            "Would you like to delete the certificate(s) you just revoked, along with all "
            "earlier and later versions of the certificate?",
            yes_label="Yes (recommended)", no_label="No", default=True,
            cli_flag="--delete-after-revoke")
    other = lineage.archive_shared_with() if delete else None
    if other is not None:
        # Certbot's rule (and its words): nothing of a lineage whose archive
        # another lineage uses is deleted.
        logger.warning("Not deleting revoked certificates due to overlapping archive dirs. "
                       "More than one certificate is using %s (also %s)",
                       lineage.archive_dir, other)
    elif delete and delete_lineages(config, display, [lineage.name]):
        return
    revocations.record(lineage.archive_dir, serial, config.reason)
    say(config, "Not deleting revoked certificates.")


def with_lineage_server(config: Config) -> Config:
    """``--cert-name``: the CA (and account, CA bundle) saved in the lineage's renewal conf.

    Certbot's rule: the lineage's server is used unless ``--server`` (or
    ``--staging``) is given, so a lineage from a private CA is revoked there.
    """
    if not config.certname or config.cert_path:
        return config
    try:
        lineage = Lineage.load(config.config_dir, config.certname)
    except errors.StorageError:
        return config  # cert_path_of reports the missing lineage
    result = lineage_config(config, lineage)
    if result.account and not config.is_set("account"):
        # Certbot revokes with the server's account, not necessarily the one
        # saved in the conf: the saved one is used only while it still exists.
        if result.account not in AccountStore(result.config_dir, effective_server(result)).ids():
            result = dataclasses.replace(result, account=None)
    return result


def run(config: Config) -> int:
    display = Display.from_config(config)
    path = cert_path_of(config)
    config = with_lineage_server(config)
    cert_pem = _read(path, "certificate")

    info = crypto.cert_info(cert_pem, source=path)
    session = _session(config, display, cert_pem)
    session.revoke(cert_pem, REVOCATION_REASONS[config.reason])
    say(config, f"Congratulations! You have successfully revoked the certificate that was "
                f"located at {path}.")
    _after(config, display, lineage_of(config, path), info.serial)
    return 0
