"""Obtain a certificate for a set of names and save it as a lineage.

Shared by ``certonly``, ``run`` and ``renew``: the kernel makes the key and
the CSR, the ACME engine runs the order against the authenticator process,
and storage writes archive, live links and the renewal conf — or nothing at
all in a dry run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certkernel import errors
from certkernel.ca import ari_fetch
from certkernel.ca.issuance import Issuance, IssuedCertificate
from certkernel.cmdline.cli_flags import FLAGS
from certkernel.config import Config
from certkernel.crypto import KeySpec, key_spec_of, make_csr, make_key
from certkernel.lineages.storage import Lineage

if TYPE_CHECKING:
    from certkernel.ca.acme_setup import AccountSession
    from certkernel.interfaces import Authenticator, LineageStore
    from certkernel.protocol.messages import Challenge

logger = logging.getLogger(__name__)

def _renewal_keys() -> dict[str, str]:
    """dest -> [renewalparams] key of every kernel flag declared ``renew=True``."""
    return {f.dest: f.conf_key or f.dest for f in FLAGS if f.renew}


def _conf_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    return value


def renewal_params(
    config: Config, account_id: str, server: str, authenticator: str, installer: str | None
) -> dict[str, Any]:
    """``[renewalparams]``: what a renewal needs and only options the user set."""
    params: dict[str, Any] = {
        "account": account_id,
        "authenticator": authenticator,
        "installer": installer or "None",
        "server": server,
        "key_type": config.key_type,
    }
    wanted_plugins = {authenticator, installer or ""}
    renewal_keys = _renewal_keys()
    for dest in sorted(config.explicit):
        value = config.get(dest)
        if value is None or value == [] or value == {}:
            continue
        if dest in renewal_keys:
            params[renewal_keys[dest]] = _conf_value(value)
            continue
        for name in wanted_plugins:
            manifest = config.manifests.get(name)
            if manifest and any(opt.dest == dest for opt in manifest.options):
                params[dest] = _conf_value(value)
    if config.key_type == "rsa":
        params.setdefault("rsa_key_size", str(config.rsa_key_size))
    else:
        params.setdefault("elliptic_curve", config.elliptic_curve)
    return params


@dataclass
class SavedCertificate:
    """An :class:`~certkernel.ca.issuance.IssuedCertificate` (what the CA gave), the names it
    covers and the lineage it was saved to (None in a dry run): what :func:`obtain` returns."""

    issued: IssuedCertificate
    names: list[str]
    lineage: Lineage | None  # None in a dry run


def new_key(config: Config) -> bytes:
    if config.key_type == "rsa" and config.rsa_key_size < 2048:
        raise errors.ConfigurationError("--rsa-key-size must be at least 2048")
    return make_key(KeySpec(config.key_type, config.elliptic_curve, config.rsa_key_size))


def _order(
    config: Config,
    acct: AccountSession,
    authenticator: Authenticator,
    names: list[str],
    key_pem: bytes,
    replaces: str | None = None,
    before_answer: Callable[[list[Challenge]], None] | None = None,
) -> IssuedCertificate:
    """One ACME order (:meth:`Issuance.issue`) for ``names`` with this key; nothing is written.

    ``replaces`` is the ARI cert ID of the certificate this one renews.
    """
    if config.must_staple:
        logger.warning(
            "--must-staple: Let's Encrypt no longer runs OCSP responders; a must-staple "
            "certificate from it may fail in browsers. Use it only with a CA that staples."
        )

    def csr_for(subset: list[str]) -> bytes:
        return make_csr(key_pem, subset, must_staple=config.must_staple)

    return Issuance(acct.session, before_answer, dry_run=config.dry_run).issue(
        csr_pem=csr_for(names),
        authenticators={name: authenticator for name in names},
        preferred_challenges=config.pref_challs,
        preferred_chain=config.preferred_chain,
        allow_subset_of_names=config.allow_subset_of_names,
        make_csr=csr_for,
        replaces=replaces,
    )


def key_type_change(config: Config, lineage: Lineage, interactive: bool,
                    confirm: Callable[[str], bool] | None = None) -> bool:
    """Whether this run changes the key type of ``lineage``; refuse an ambiguous change.

    Certbot 2.x's rule: ``--key-type`` together with ``--cert-name`` is a
    clear request; otherwise an interactive user is asked, and a
    non-interactive run that names a different ``--key-type`` without
    ``--cert-name`` stops, since it may have matched the lineage by its
    names only. A type that comes only from the default never changes one.
    """
    if not config.is_set("key_type"):
        return False
    current = _lineage_key_type(lineage)
    if config.key_type == current:
        return False
    if config.is_set("certname"):
        return True
    old, new = current.upper(), config.key_type.upper()
    if interactive and confirm is not None and confirm(
            f"An {old} certificate named {lineage.name} already exists. Do you want to "
            f"update its key type to {new}?"):
        return True
    raise errors.ConfigurationError(
        f"Are you trying to change the key type of the certificate named {lineage.name} "
        f"from {old} to {new}? Please provide both --cert-name and --key-type on the "
        "command line to confirm the change you are trying to make.")


def _lineage_key_type(lineage: Lineage) -> str:
    return key_spec_of(lineage.read("privkey")).key_type


def keep_lineage_key_type(
    config: Config, lineage: Lineage | None, params: Mapping[str, Any]
) -> tuple[Config, Mapping[str, Any]]:
    """The key parameters for a new key of an existing lineage (Certbot 2.x's rules).

    Without ``--key-type`` the lineage keeps the *type* of its key (a
    lineage Certbot 1.x made is RSA with no ``key_type`` in its conf and must
    not turn ECDSA silently). The size or curve is never taken from the
    old key: it is what this run says — the command line or cli.ini, the
    renewal conf for ``renew``, else the default. So ``certonly
    --force-renewal`` of an RSA-4096 lineage gives RSA-2048 unless
    ``--rsa-key-size 4096`` is given, exactly as Certbot does.
    """
    if lineage is None:
        return config, params
    if not config.is_set("key_type"):
        config = dataclasses.replace(config, key_type=_lineage_key_type(lineage))
    return config, _key_params(config, params)


def _key_params(config: Config, params: Mapping[str, Any]) -> dict[str, Any]:
    fixed = {k: v for k, v in params.items() if k not in ("rsa_key_size", "elliptic_curve")}
    fixed["key_type"] = config.key_type
    if config.key_type == "rsa":
        fixed["rsa_key_size"] = str(config.rsa_key_size)
    else:
        fixed["elliptic_curve"] = config.elliptic_curve
    return fixed


def reuse_decision(config: Config, lineage: Lineage | None,
                   params: Mapping[str, Any]) -> tuple[bool, Config, Mapping[str, Any]]:
    """(reuse the lineage's key?, config, params) for ``--reuse-key``/``--new-key``.

    ``--new-key`` makes a fresh key even when reuse is on (and, with
    ``--reuse-key``, that new key is reused later). A reused key decides
    the saved key parameters. Asking for other key parameters while the
    key is reused is refused, as Certbot does, rather than silently ignored.
    """
    if lineage is None or config.new_key or not config.reuse_key:
        return False, config, params

    spec = key_spec_of(lineage.read("privkey"))
    conflicts = [
        ("--key-type", config.is_set("key_type") and config.key_type != spec.key_type),
        ("--rsa-key-size", config.is_set("rsa_key_size") and spec.key_type == "rsa"
         and config.rsa_key_size != spec.rsa_key_size),
        ("--elliptic-curve", config.is_set("elliptic_curve") and spec.key_type == "ecdsa"
         and config.elliptic_curve != spec.elliptic_curve),
    ]
    for flag, conflict in conflicts:
        if conflict:
            raise errors.ConfigurationError(
                f"Unable to change the {flag} of this certificate because --reuse-key is set. "
                "To stop reusing the private key, specify --no-reuse-key. To change the "
                "private key this one time and then reuse it in future, add --new-key.")
    config = dataclasses.replace(config, key_type=spec.key_type,
                                 rsa_key_size=spec.rsa_key_size if spec.key_type == "rsa"
                                 else config.rsa_key_size,
                                 elliptic_curve=spec.elliptic_curve if spec.key_type == "ecdsa"
                                 else config.elliptic_curve)
    return True, config, _key_params(config, params)


def obtain(
    config: Config,
    acct: AccountSession,
    authenticator: Authenticator,
    names: list[str],
    *,
    lineage: Lineage | None,
    lineage_name: str,
    params: Mapping[str, Any],
    store: LineageStore,
    before_answer: Callable[[list[Challenge]], None] | None = None,
) -> SavedCertificate:
    """Issue for ``names`` and save: a new lineage, or a new version of ``lineage``.

    A renewal order names the cert it replaces when the CA offers ARI (not in
    a dry run, which must not mark the real cert as replaced); after saving,
    the new cert's renewal window is cached so the next ``renew`` needs no
    network (:mod:`certkernel.ca.ari_fetch`; failures there are only logged).
    The caller holds ``store.lock(lineage_name)`` and read ``lineage`` from
    ``store`` after taking it (the contract of
    :class:`certkernel.interfaces.LineageStore`).
    """
    config, params = keep_lineage_key_type(config, lineage, params)
    reuse, config, params = reuse_decision(config, lineage, params)
    key_pem = lineage.read("privkey") if (lineage is not None and reuse) else new_key(config)
    replaces = None
    if lineage is not None and not config.dry_run:
        replaces = ari_fetch.replaces_for(acct.session, lineage)
    issued = _order(config, acct, authenticator, names, key_pem, replaces, before_answer)
    kept = [n for n in names if n not in issued.dropped_names]
    if config.dry_run:
        return SavedCertificate(issued, kept, None)
    cert, chain, full = (s.encode() for s in (issued.cert_pem, issued.chain_pem, issued.fullchain_pem))
    if lineage is None:
        saved = store.create(lineage_name, cert, chain, full, key_pem, params)
    else:
        store.save_version(lineage, cert, chain, full, None if reuse else key_pem, params)
        saved = lineage
    ari_fetch.record_after_issuance(acct.session, saved, store.now())
    store.share_renewal_info(saved)
    return SavedCertificate(issued, kept, saved)
