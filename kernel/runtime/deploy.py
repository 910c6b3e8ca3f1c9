"""Put a lineage into a server through an installer process.

``run``, ``install``, ``enhance`` and ``renew`` share this: deploy the
certificate for each name, apply the enhancements the user asked for, save
(the installer registers every file with the kernel's checkpoints before it
writes), test the config and reload.  Installers already undo a change their
own config test rejects; the kernel does not rely on that alone: any failure
before the reload also restores the files from the kernel's checkpoint
store, and a failed reload rolls the finalized checkpoint back and reloads
again, so the server keeps serving its previous configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

from certkernel import errors, lock
from certkernel.config import Config
from certkernel.plugin_host.roots import resolve_roots
from certkernel.protocol.messages import LineageInfo

if TYPE_CHECKING:
    from certkernel.interfaces import CheckpointStore, Installer
    from certkernel.lineages.storage import Lineage
    from certkernel.protocol.messages import LineageInfo

logger = logging.getLogger(__name__)

# Certbot's enhancement names and options, by Config field.
ENHANCEMENTS = (
    ("redirect", "redirect", None),
    ("hsts", "ensure-http-header", "Strict-Transport-Security"),
    ("uir", "ensure-http-header", "Upgrade-Insecure-Requests"),
    ("staple", "staple-ocsp", None),
)
FLAG_OF = {"redirect": "--redirect", "staple-ocsp": "--staple-ocsp",
           "Strict-Transport-Security": "--hsts", "Upgrade-Insecure-Requests": "--uir"}


class CertPaths(Protocol):
    """What an installer needs of a certificate: a lineage or loose files."""

    @property
    def cert_path(self) -> str: ...
    @property
    def key_path(self) -> str: ...
    @property
    def chain_path(self) -> str: ...
    @property
    def fullchain_path(self) -> str: ...


@dataclass(frozen=True)
class LooseCert:
    """Certificate files given by path (``install --cert-path ... --key-path ...``)."""

    cert_path: str
    key_path: str
    chain_path: str
    fullchain_path: str


def default_enhancements(config: Config) -> frozenset[str]:
    """Enhancements ``run`` and ``install`` turn on unasked: redirect, unless the user chose.

    As in Certbot, a default applies only where the installer supports it:
    :func:`apply_enhancements` skips it with a note instead of failing.
    """
    return frozenset({"redirect"}) if config.redirect is None else frozenset()


def check_enhancements(installer: Installer,
                       enhancements: Sequence[tuple[str, str | None]],
                       defaults: frozenset[str] = frozenset()) -> list[str]:
    """The installer's supported enhancements; an explicitly asked one it lacks is an error.

    ``run`` calls this before asking the CA for anything, so ``--redirect``
    with an installer that cannot redirect fails before a certificate is
    obtained.
    """
    supported = installer.supported_enhancements() if enhancements else []
    for enhancement, option in enhancements:
        if enhancement not in supported and enhancement not in defaults:
            flag = FLAG_OF.get(option or enhancement, enhancement)
            raise errors.NotSupportedError(
                f"The {installer.name} installer cannot do {flag}; run again without it"
            )
    return supported


def wanted_enhancements(config: Config, default_redirect: bool) -> list[tuple[str, str | None]]:
    """(enhancement, option) pairs asked for; redirect follows ``default_redirect`` when unset."""
    chosen = []
    for field_name, name, option in ENHANCEMENTS:
        value = getattr(config, field_name)
        if value is None and field_name == "redirect":
            value = default_redirect
        if value:
            chosen.append((name, option))
    return chosen


def changes_nothing(config: Config, installer_name: str | None) -> bool:
    """True when there is no installer, or its manifest says it changes no server.

    ``[needs] changes_nothing`` (PROTOCOL.md §8): such an installer needs no
    server lock, earns no "enabled HTTPS" message and has nothing to roll back.
    An installer whose manifest is unknown is assumed to change something.
    """
    if not installer_name or installer_name == "None":
        return True
    manifest = config.manifests.get(installer_name)
    return manifest is not None and manifest.changes_nothing


def installer_locked(config: Config, installer_name: str | None) -> AbstractContextManager[object]:
    """Hold the installer's server root (``certkernel.lock``) for the whole run.

    Two runs changing the same nginx/apache tree serialize; runs on other
    trees do not wait.  The tree is the installer's first checkpoint root
    (its option, else the manifest's default); a plugin declaring none is
    keyed by its name.
    """
    if installer_name is None or changes_nothing(config, installer_name):
        return nullcontext()
    manifest = config.manifests.get(installer_name)
    roots = resolve_roots(manifest, config.plugin_options(manifest)) if manifest else []
    key = roots[0] if roots else f"/default-server-root-of-{installer_name}"
    return lock.held(lock.server_root_lock(config.config_dir, key, config.lock_timeout))


def ocsp_url(cert_path: str) -> str | None:
    """The AIA OCSP responder URL of a certificate, or None (the CA offers no OCSP)."""
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID

    with open(cert_path, "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for desc in aia:
        if desc.access_method == AuthorityInformationAccessOID.OCSP:
            return str(desc.access_location.value)
    return None


def _warn_no_ocsp(cert: CertPaths, notify: Callable[[str], None]) -> None:
    try:
        url = ocsp_url(cert.cert_path)
    except (OSError, ValueError) as exc:
        logger.debug("cannot read %s for its OCSP URL: %s", cert.cert_path, exc)
        return
    if url is None:
        notify("Warning: the certificate names no OCSP responder (the CA does not offer OCSP), "
               "so the server will have nothing to staple; --staple-ocsp is configured anyway.")


class _Restorer:
    """Undo what this run changed, from the kernel's own checkpoint store."""

    def __init__(self, reverter: CheckpointStore | None) -> None:
        self.reverter = reverter
        self.finalized_before = self._finalized()

    def _finalized(self) -> int:
        if self.reverter is None:
            return 0
        return sum(1 for info in self.reverter.view() if info.kind == "finalized")

    def restore(self) -> int:
        """Put back unfinished and this run's finalized changes; the number of files touched."""
        if self.reverter is None:
            return 0
        touched = 0
        for result in self.reverter.recovery_routine():
            touched += len(result.restored) + len(result.removed)
        new = self._finalized() - self.finalized_before
        if new > 0:
            for result in self.reverter.rollback(new):
                touched += len(result.restored) + len(result.removed)
        return touched


def install_lineage(
    config: Config,
    installer: Installer,
    lineage: CertPaths,
    names: Sequence[str],
    *,
    enhancements: Sequence[tuple[str, str | None]] = (),
    rollback: CheckpointStore | None = None,
    notify: Callable[[str], None] | None = None,
    deploy: bool = True,
    defaults: frozenset[str] = frozenset(),
) -> None:
    """Deploy (unless ``deploy`` is False), enhance, save, test and reload.

    ``defaults`` names the enhancements applied unasked (redirect): one the
    installer does not support is skipped with a note, not an error.  An
    explicitly asked one it lacks fails before anything is deployed.  On
    failure the previous files come back (installer and kernel side) and
    the error propagates with what happened added for the user.
    """
    tell = notify if notify is not None else logger.warning
    if config.auto_hsts and config.hsts:
        raise errors.ConfigurationError("--hsts and --auto-hsts cannot be used together; "
                                        "choose one")
    supported = check_enhancements(installer, enhancements, defaults)
    enhancements = _drop_unsupported_defaults(installer, enhancements, defaults, supported, tell)
    restorer = _Restorer(rollback)
    try:
        if deploy:
            for name in names:
                installer.deploy_cert(
                    name, lineage.cert_path, lineage.key_path, lineage.chain_path,
                    lineage.fullchain_path,
                )
            if enhancements or config.auto_hsts:
                # Certbot's order: the deployment is written before enhancements
                # look for the TLS site (the checkpoint is finalized below).
                installer.save()
        apply_enhancements(installer, lineage, names, enhancements, tell)
        if config.auto_hsts:
            enable_autohsts(installer, lineage, names)
        what = "Deployed certificate" if deploy else "Enhanced configuration"
        installer.save(f"{what} for {', '.join(names)}")
        installer.config_test()
    except errors.Error as exc:
        _recover(installer, restorer, tell, exc)
        raise
    try:
        installer.restart()
    except errors.Error as exc:
        _recover(installer, restorer, tell, exc)
        try:
            installer.restart()
        except errors.Error as again:
            tell(f"Reloading the server with the restored configuration failed too: {again}")
        raise


def _drop_unsupported_defaults(installer: Installer,
                               enhancements: Sequence[tuple[str, str | None]],
                               defaults: frozenset[str], supported: Sequence[str],
                               tell: Callable[[str], None]) -> list[tuple[str, str | None]]:
    """Default enhancements the installer cannot do are left out, and the user told so."""
    kept = []
    for enhancement, option in enhancements:
        if enhancement in defaults and enhancement not in supported:
            flag = FLAG_OF.get(option or enhancement, enhancement)
            tell(f"Note: the {installer.name} installer supports no {enhancement} "
                 f"enhancement, so none was set up ({flag} is on by default only where the "
                 f"installer supports it).")
            continue
        kept.append((enhancement, option))
    return kept


def apply_enhancements(
    installer: Installer,
    cert: CertPaths,
    names: Sequence[str],
    enhancements: Sequence[tuple[str, str | None]],
    notify: Callable[[str], None],
) -> None:
    """Ask the installer for each enhancement on each name; unsupported ones are an error."""
    if not enhancements:
        return
    supported = set(installer.supported_enhancements())
    for enhancement, option in enhancements:
        if enhancement not in supported:
            flag = FLAG_OF.get(option or enhancement, enhancement)
            raise errors.NotSupportedError(
                f"The {installer.name} installer cannot do {flag}; run again without it"
            )
        if enhancement == "staple-ocsp":
            _warn_no_ocsp(cert, notify)
        for name in names:
            try:
                installer.enhance(name, enhancement, option)
            except errors.PluginEnhancementAlreadyPresent:
                logger.info("%s is already enabled for %s", option or enhancement, name)


def _lineage_info(cert: CertPaths, names: Sequence[str]) -> LineageInfo:
    """The protocol's lineage map for a lineage or for loose files."""
    to_info = getattr(cert, "to_lineage_info", None)
    if callable(to_info):
        info: LineageInfo = to_info()
        return info
    return LineageInfo(name=names[0] if names else "", cert_path=cert.cert_path,
                       key_path=cert.key_path, chain_path=cert.chain_path,
                       fullchain_path=cert.fullchain_path, domains=list(names))


def enable_autohsts(installer: Installer, cert: CertPaths, names: Sequence[str]) -> None:
    """``--auto-hsts``: a small HSTS max-age now, raised by each later renewal.

    Only installers announcing the ``autohsts`` capability can; asking
    another one is an error before anything is reloaded.
    """
    if "autohsts" not in installer.capabilities:
        raise errors.NotSupportedError(
            f"The {installer.name} installer cannot do --auto-hsts; run again without it"
        )
    installer.enable_autohsts(_lineage_info(cert, names), list(names))


def _recover(installer: Installer, restorer: _Restorer, tell: Callable[[str], None],
             cause: errors.Error) -> None:
    logger.debug("installation failed: %s", cause)
    touched = 0
    try:
        touched = restorer.restore()
        installer.recovery_routine()
    except errors.Error as exc:
        tell(f"Restoring the previous server configuration failed too: {exc}. "
             "Run 'certkernel rollback' and check the server's configuration by hand.")
        return
    if touched:
        tell(f"Installation failed; the previous server configuration was restored "
             f"({touched} file(s)).")
    else:
        tell("Installation failed; no configuration file was left changed.")


def redeploy(
    config: Config,
    installer: Installer,
    lineages: Sequence[Lineage],
    rollback: CheckpointStore | None = None,
    notify: Callable[[str], None] | None = None,
) -> list[str]:
    """Reinstall renewed lineages with one save/test/reload at the end (for ``renew``).

    Uses the installer's ``renew_deploy`` when it announces that capability,
    else ``deploy_cert`` per name.  An ``autohsts`` installer first raises
    the max-age of its auto-HSTS sites one step (``update_autohsts``) and,
    after each deployment, may make it permanent (``deploy_autohsts``).
    Returns the names of lineages whose deployment failed: with one bad
    lineage the others are still saved and reloaded; when the save, config
    test or reload fails, every file is restored (kernel and installer side)
    and all of them count as failed.
    """
    tell = notify if notify is not None else logger.warning
    restorer = _Restorer(rollback)
    failed: list[str] = []
    use_renew_deploy = "renew_deploy" in installer.capabilities
    autohsts = "autohsts" in installer.capabilities
    if autohsts and lineages and lineages[0].names:
        _autohsts_step(installer, lambda: installer.update_autohsts(lineages[0].names[0]), tell)
    for lineage in lineages:
        try:
            if use_renew_deploy:
                installer.renew_deploy(lineage.to_lineage_info())
            else:
                for name in lineage.names:
                    installer.deploy_cert(name, lineage.cert_path, lineage.key_path,
                                          lineage.chain_path, lineage.fullchain_path)
        except errors.Error as exc:
            tell(f"Deploying the renewed certificate {lineage.name} failed: {exc}")
            failed.append(lineage.name)
            continue
        if autohsts:
            info = lineage.to_lineage_info()
            _autohsts_step(installer, partial(installer.deploy_autohsts, info), tell)
    if len(failed) == len(lineages):
        _recover(installer, restorer, tell, errors.PluginError("nothing deployed"))
        return failed
    try:
        installer.save("Deployed renewed certificates: " + ", ".join(
            lin.name for lin in lineages if lin.name not in failed))
        installer.config_test()
    except errors.Error as exc:
        # Nothing was reloaded: restoring the files is enough.
        tell(f"Installing the renewed certificates with {installer.name} failed: {exc}")
        _recover(installer, restorer, tell, exc)
        return [lin.name for lin in lineages]
    try:
        installer.restart()
    except errors.Error as exc:
        tell(f"Reloading {installer.name} with the renewed certificates failed: {exc}")
        _recover(installer, restorer, tell, exc)
        try:
            installer.restart()
        except errors.Error as again:
            tell(f"Reloading the server with the restored configuration failed too: {again}")
        return [lin.name for lin in lineages]
    return failed


def _autohsts_step(installer: Installer, step: Callable[[], None],
                   tell: Callable[[str], None]) -> None:
    """An auto-HSTS update must not cost the renewal itself: warn and go on."""
    try:
        step()
    except errors.Error as exc:
        tell(f"Updating the auto-HSTS max-age with {installer.name} failed: {exc}")
