"""Deleting lineages: what ``delete`` and ``revoke --delete-after-revoke`` share.

Certbot's flow: ``--cert-name`` or a checklist of every lineage (a checklist
cannot be answered with ``-n``), then one confirmation warning that servers
still using the files will break (default yes, so ``-n`` deletes).
"""

from __future__ import annotations

import os

from certkernel import errors
from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.lineages.storage import conf_paths
from certkernel.lineages.store_choice import store_for
from certkernel.lock import held

WARNING = (
    "WARNING: Before continuing, ensure that the listed certificates are not being used by "
    "any installed server software (e.g. Apache, nginx, mail servers). Deleting a "
    "certificate that is still being used will cause the server software to stop working. "
    "See https://certbot.org/deleting-certs for information on deleting certificates safely."
)


def lineage_names(config_dir: str) -> list[str]:
    return [os.path.basename(p)[: -len(".conf")] for p in conf_paths(config_dir)]


def choose_names(config: Config, display: Display) -> list[str]:
    """``--cert-name`` (which must exist), or the user's picks from every lineage."""
    existing = lineage_names(config.config_dir)
    if config.certname:
        if config.certname not in existing:
            raise errors.CertStorageError(
                f"No certificate found with name {config.certname} (expected "
                f"{os.path.join(config.config_dir, 'renewal', config.certname + '.conf')}).")
        return [config.certname]
    if not existing:
        raise errors.Error("No existing certificates found.")
    if not display.interactive:
        raise errors.MissingFlag(
            "Which certificate(s) to delete? Pass --cert-name NAME when running with -n.")
    ok, picked = display.checklist("Which certificate(s) would you like to delete?", existing,
                                   cli_flag="--cert-name")
    if not ok or not picked:
        raise errors.Error("User ended interaction.")
    return picked


def delete_lineages(config: Config, display: Display, names: list[str]) -> bool:
    """Confirm, then delete each; False when the user said no."""
    question = "\n".join(
        ["The following certificate(s) are selected for deletion:", ""]
        + [f"  * {n}" for n in names]
        + ["", WARNING, "", "Are you sure you want to delete the above certificate(s)?"])
    if not display.yesno(question, default=True):
        say(config, "Deletion of certificate(s) canceled.")
        return False
    store = store_for(config)
    for name in names:
        with held(store.lock(name)):  # not under a renew that is writing it
            store.delete(name)
        say(config, f"Deleted all files relating to certificate {name}.")
    return True
