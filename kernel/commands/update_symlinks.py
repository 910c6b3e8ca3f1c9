"""``certkernel update_symlinks``: point live links at the archive again.

For users who moved ``archive/<name>`` or the live files and edited the
renewal conf to say so (Certbot's documented procedure): every lineage, or
only ``--cert-name``, gets relative links to its current version.
"""

from __future__ import annotations

import os

from certkernel import errors
from certkernel.config import Config
from certkernel.display import say
from certkernel.lineages.storage import Lineage, conf_paths


def run(config: Config) -> int:
    paths = conf_paths(config.config_dir)
    if config.certname:
        wanted = os.path.join(config.config_dir, "renewal", f"{config.certname}.conf")
        if wanted not in paths:
            raise errors.CertStorageError(
                f"No certificate found with name {config.certname} (expected {wanted}).")
        paths = [wanted]
    failed = 0
    for path in paths:
        try:
            lineage = Lineage.from_conf(config.config_dir, path, repair=True)
            version = lineage.update_symlinks()
        except errors.StorageError as exc:
            failed += 1
            say(config, f"Skipped {path}: {exc}")
            continue
        say(config, f"Updated symlinks of {lineage.name} ({lineage.live_dir}) to version "
                    f"{version} in {lineage.archive_dir}.")
    if failed:
        raise errors.StorageError(f"{failed} lineage(s) could not be updated; see above.")
    return 0
