"""Which lineage store a run uses: the one place that chooses.

Its own module, apart from :mod:`certkernel.lineages.lineage_store`, because
the fleet store builds on the local one (it materializes into a
``LocalStore``): choosing between them here keeps the imports one-way.
"""

from __future__ import annotations

from certkernel.config import Config
from certkernel.fleet.store_open import open_store
from certkernel.interfaces import LineageStore
from certkernel.lineages.lineage_store import LocalStore


def store_for(config: Config) -> LineageStore:
    """The lineage store of this run, with the run's resolved lock timeout: the fleet
    store when ``--store`` is given (``certkernel.fleet``), else the local layout."""
    if config.store:
        return open_store(config)
    return LocalStore(config.config_dir, config.lock_timeout)
