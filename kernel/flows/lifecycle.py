"""One event bus for every verb that obtains or installs certificates.

Why: ``certonly``, ``run``, ``renew`` and ``certonly --csr`` all fire the
same lifecycle events (:mod:`certkernel.events`), so an extension installed
under the ``certkernel.events`` entry point sees every run, and the shell
hooks are only the built-in implementation of those events
(:class:`certkernel.flows.hooks.ShellHookEvents`). ``run_starting`` fires when
the block is entered and ``run_finished`` when it is left, also after a
failure, with the names that failed (the post hooks run there).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from certkernel.config import Config
from certkernel.events import plugin_manager
from certkernel.flows.hooks import ShellHookEvents, ShellHooks

if TYPE_CHECKING:
    import pluggy


@contextmanager
def lifecycle(config: Config, verb: str) -> Iterator[pluggy.PluginManager]:
    """The plugin manager of one run; shell hooks registered, extensions loaded.

    Hook commands are validated before anything else happens, so a typo in
    ``--pre-hook`` stops the run before any plugin starts. Directory hooks
    (``renewal-hooks/``) take part in ``renew`` only, as in Certbot.
    """
    shell = ShellHooks(config, directories=verb == "renew")
    manager = plugin_manager()
    ShellHookEvents(shell).register_on(manager)
    manager.hook.run_starting(config=config, verb=verb)
    try:
        yield manager
    finally:
        manager.hook.run_finished(config=config, verb=verb,
                                  failed_names=list(shell.failed_domains))
