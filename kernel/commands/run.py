"""``certkernel run`` (the default command): obtain a certificate, then install it.

The obtain part is ``certonly``'s (:func:`certkernel.flows.obtain_flow.obtain_cert`); when the
authenticator is also the installer (``--nginx``, ``--apache``) both roles
are one process.  The kernel's checkpoint store is handed to the plugins, so
every file they change can be restored: on a failed install right away, after
a crash on the next run, or later with ``rollback``.  A certificate kept or
reinstalled (not due for renewal) is still installed, as Certbot does.
"""

from __future__ import annotations

import logging

from certkernel import errors, progress
from certkernel.checkpoints.reverter import Reverter
from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.flows.deploy_flow import congratulate, deploy_with, recover_interrupted
from certkernel.flows.lifecycle import lifecycle
from certkernel.flows.obtain_flow import Outcome, deployed, obtain_cert, report_saved
from certkernel.lineages.lineage_choice import Action
from certkernel.runtime.deploy import (
    check_enhancements,
    default_enhancements,
    installer_locked,
    wanted_enhancements,
)
from certkernel.runtime.plugin_runtime import PluginLauncher, chosen_plugins

logger = logging.getLogger(__name__)


def _report_obtained(config: Config, outcome: Outcome) -> None:
    if outcome.action == Action.KEEP:
        say(config, "Certificate not yet due for renewal; keeping the existing certificate.")
    elif outcome.action == Action.REINSTALL:
        say(config, "Reinstalling the existing certificate.")
    else:
        report_saved(config, outcome)


def run(config: Config) -> int:
    display = Display.from_config(config)
    if config.csr:
        raise errors.ConfigurationError(
            "--csr works with certonly only: run 'certkernel certonly --csr FILE', "
            "then 'certkernel install' with the files it saved"
        )
    auth_name, inst_name = chosen_plugins(config, "run")
    assert auth_name is not None and inst_name is not None
    with Reverter(config.work_dir, lock_timeout=config.lock_timeout) as reverter:
        recover_interrupted(config, reverter)
        with installer_locked(config, inst_name), lifecycle(config, "run") as manager, \
                PluginLauncher(config, display, checkpoints=reverter,
                               on_progress=progress.printer(display)) as launcher:
            if not config.dry_run:
                # Find a broken installer, or an enhancement asked for that it
                # cannot do, before asking the CA for anything.
                check_enhancements(launcher.installer(inst_name),
                                   wanted_enhancements(config, default_redirect=True),
                                   default_enhancements(config))
            outcome = obtain_cert(config, display, launcher, auth_name, inst_name, manager.hook)
            if config.dry_run:
                say(config, "The dry run was successful. Nothing was installed: a dry run "
                            f"obtains a test certificate only and leaves the {inst_name} "
                            "configuration unchanged.")
                return 0
            lineage = outcome.lineage
            assert lineage is not None
            _report_obtained(config, outcome)
            try:
                deploy_with(config, display, launcher, inst_name, lineage, outcome.names,
                            reverter)
            except errors.Error:
                display.notification(
                    "The certificate was saved, but could not be installed. After fixing the "
                    f"error below, run: certkernel install --cert-name {lineage.name}",
                    wrap=False)
                raise
            deployed(config, manager.hook, outcome)
    congratulate(config, inst_name, outcome.names)
    return 0
