"""``certkernel enhance``: add --redirect/--hsts/--uir/--staple-ocsp to an installed certificate.

Nothing is enabled by default here (Certbot's rule: redirect is on by default
only for run/install), so at least one enhancement flag is required.  The
names come from the lineage (``--cert-name``) or ``-d``; the installer and
its options from the flags, else from the lineage's renewal conf.
"""

from __future__ import annotations

from certkernel import errors
from certkernel.checkpoints.reverter import Reverter
from certkernel.config import Config
from certkernel.display import Display, say
from certkernel.flows.deploy_flow import installer_for, recover_interrupted
from certkernel.flows.obtain_flow import requested_names
from certkernel.lineages.named_lineage import load_lineage, with_lineage_conf
from certkernel.progress import printer as progress_printer
from certkernel.runtime.deploy import install_lineage, installer_locked, wanted_enhancements
from certkernel.runtime.plugin_runtime import PluginLauncher


def run(config: Config) -> int:
    display = Display.from_config(config)
    wanted = wanted_enhancements(config, default_redirect=False)
    if not wanted:
        raise errors.MissingFlag(
            "Please specify one or more enhancement types to configure: --redirect, --hsts, "
            "--uir or --staple-ocsp"
        )
    if not config.certname:
        raise errors.MissingFlag(
            "enhance needs --cert-name NAME (see 'certkernel certificates')"
        )
    lineage = load_lineage(config, config.certname)
    config = with_lineage_conf(config, lineage)
    names = list(lineage.names)
    if config.domains:
        asked = requested_names(config, display)
        unknown = [n for n in asked if n not in names]
        if unknown:
            raise errors.ConfigurationError(
                f"{', '.join(unknown)} not in certificate {lineage.name} "
                f"({', '.join(names)})"
            )
        names = asked
    inst_name = installer_for(config, "enhance")

    def notify(text: str) -> None:
        display.notification(text, wrap=False)

    with Reverter(config.work_dir, lock_timeout=config.lock_timeout) as reverter:
        recover_interrupted(config, reverter)
        with installer_locked(config, inst_name), \
                PluginLauncher(config, display, checkpoints=reverter,
                               on_progress=progress_printer(display)) as launcher:
            installer = launcher.installer(inst_name)
            install_lineage(config, installer, lineage, names, enhancements=wanted,
                            rollback=reverter, notify=notify, deploy=False)
    flags = ", ".join(option or name for name, option in wanted)
    say(config, f"Successfully enabled {flags} for {', '.join(names)}")
    return 0
