"""``certkernel delete``: remove a lineage's renewal conf, live links and archive.

Certbot's flow: ``--cert-name`` or a checklist of every lineage (a checklist
cannot be answered with ``-n``), then one confirmation warning that servers
still using the files will break (default yes, so ``-n`` deletes).
"""

from __future__ import annotations

from certkernel.config import Config
from certkernel.display import Display
from certkernel.lineages.lineage_delete import choose_names, delete_lineages


def run(config: Config) -> int:
    display = Display.from_config(config)
    names = choose_names(config, display)
    delete_lineages(config, display, names)
    return 0
