"""``certonly --csr``: issue for a CSR the user made; save to the given paths.

No lineage is created and no key is touched (the user holds it); the files
go to ``--cert-path``, ``--chain-path`` and ``--fullchain-path``, or to
``./cert.pem`` and so on, with a ``0000_`` prefix instead of overwriting.
"""

from __future__ import annotations

import os

from certkernel import errors, progress
from certkernel.ca.acme_setup import open_account
from certkernel.ca.issuance import Issuance
from certkernel.config import Config
from certkernel.crypto import load_csr
from certkernel.display import Display, say
from certkernel.flows.lifecycle import lifecycle
from certkernel.fsutil import atomic_write, make_dirs
from certkernel.names import normalize_names, split_domain_args
from certkernel.runtime.plugin_runtime import PluginLauncher, check_wildcards, chosen_plugins


def _unique(path: str) -> str:
    if not os.path.exists(path):
        return path
    folder, base = os.path.split(path)
    for n in range(10000):
        candidate = os.path.join(folder, f"{n:04d}_{base}")
        if not os.path.exists(candidate):
            return candidate
    raise errors.Error(f"cannot find a free file name near {path}")


def _make_parent_dirs(config: Config) -> None:
    """Certbot creates the folders of --cert-path and friends (mode 0755).

    Done before the order, so a path that cannot exist fails before the CA
    issues anything.
    """
    for flag, path in (("--cert-path", config.cert_path), ("--chain-path", config.chain_path),
                       ("--fullchain-path", config.fullchain_path)):
        if path:
            try:
                make_dirs(os.path.dirname(path), 0o755)
            except (OSError, errors.Error) as exc:
                detail = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise errors.ConfigurationError(
                    f"{flag}: cannot create the folder of {path}: {detail}") from None


def run_csr(config: Config, display: Display) -> int:
    try:
        data = open(config.csr or "", "rb").read()  # noqa: SIM115
    except OSError as exc:
        raise errors.ConfigurationError(f"--csr: cannot read {config.csr}: {exc.strerror}") from None
    info = load_csr(data, f"--csr {config.csr}")
    names = [i.value for i in normalize_names(info.names)]
    if config.domains:
        given = [i.value for i in normalize_names(split_domain_args(config.domains))]
        if set(given) != set(names):
            raise errors.ConfigurationError(
                f"--csr names ({', '.join(names)}) differ from -d ({', '.join(given)})"
            )
    auth_name, _ = chosen_plugins(config, "certonly")
    assert auth_name is not None
    check_wildcards(config, names, auth_name)
    if not config.dry_run:
        _make_parent_dirs(config)
    # No lineage is saved: the events stop at before_obtain/renewal_failed.
    with lifecycle(config, "certonly") as manager, PluginLauncher(
            config, display, on_progress=progress.printer(display)) as launcher:
        manager.hook.before_obtain(config=config, names=names, lineage_name="")
        try:
            auth = launcher.authenticator(auth_name)
            acct = open_account(config, display)
            issued = Issuance(acct.session, dry_run=config.dry_run).issue(
                csr_pem=info.pem, authenticators={n: auth for n in names},
                preferred_challenges=config.pref_challs, preferred_chain=config.preferred_chain,
            )
        except errors.Error as exc:
            manager.hook.renewal_failed(config=config, lineage_name="", names=names,
                                        reason=str(exc))
            raise
    if config.dry_run:
        say(config, "The dry run was successful.")
        return 0
    cert_path = config.cert_path or _unique(os.path.abspath("cert.pem"))
    chain_path = config.chain_path or _unique(os.path.abspath("chain.pem"))
    full_path = config.fullchain_path or _unique(os.path.abspath("fullchain.pem"))
    atomic_write(cert_path, issued.cert_pem.encode(), 0o644)
    atomic_write(chain_path, issued.chain_pem.encode(), 0o644)
    atomic_write(full_path, issued.fullchain_pem.encode(), 0o644)
    say(config, f"Successfully received certificate.\nCertificate is saved at: {cert_path}\n"
                f"Intermediate CA chain is saved at: {chain_path}\n"
                f"Full certificate chain is saved at: {full_path}")
    return 0
