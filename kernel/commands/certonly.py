"""``certkernel certonly``: obtain a certificate, install nothing.

Names are validated and the plugin chosen before any network call; the
authenticator process starts while the ACME stack is imported, which is most
of the run's fixed cost.
"""

from __future__ import annotations

from certkernel import progress
from certkernel.checkpoints.reverter import Reverter
from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.flows.csr_flow import run_csr
from certkernel.flows.lifecycle import lifecycle
from certkernel.flows.obtain_flow import deployed, obtain_cert, report_saved
from certkernel.lineages.lineage_choice import Action
from certkernel.runtime.plugin_runtime import PluginLauncher, chosen_plugins


def run(config: Config) -> int:
    display = Display.from_config(config)
    if config.csr:
        return run_csr(config, display)
    auth_name, _ = chosen_plugins(config, "certonly")
    assert auth_name is not None
    # Authenticators that edit a server's config (nginx, apache) keep their
    # temporary challenge changes in the kernel's checkpoints.
    with lifecycle(config, "certonly") as manager, \
            Reverter(config.work_dir, lock_timeout=config.lock_timeout) as reverter, \
            PluginLauncher(config, display, checkpoints=reverter,
                           on_progress=progress.printer(display)) as launcher:
        outcome = obtain_cert(config, display, launcher, auth_name, None, manager.hook)
        if outcome.action == Action.KEEP:
            say(config, "Certificate not yet due for renewal; no action taken.")
            return 0
        if outcome.action == Action.REINSTALL:
            say(config, "Certificate not yet due for renewal; no action taken "
                        "(certonly installs nothing).")
            return 0
        deployed(config, manager.hook, outcome)
    report_saved(config, outcome)
    return 0
