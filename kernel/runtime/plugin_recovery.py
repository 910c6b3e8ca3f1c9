"""Plugin proxies with the kernel's own duties around a call: recovery and finalizing.

A dead authenticator's cleanup still runs (in a fresh process), and a
titled ``save`` ends with the kernel finalizing the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.proxies import RemoteAuthenticator, RemoteInstaller
from certkernel.plugin_host.services import Checkpoints
from certkernel.protocol.messages import Challenge
from certkernel.runtime.challenge_desk import ChallengeDesk


class RecoveringAuthenticator(RemoteAuthenticator):
    """An authenticator whose cleanup runs in a fresh process if the first one died.

    Cleanup must run even when the plugin crashed, was killed on a deadline or
    ran out of its sandbox limits during perform: what it published before
    that (a TXT record, a webroot file) would otherwise stay behind.
    """

    def __init__(self, process: PluginProcess, fresh: Callable[[], PluginProcess],
                 checkpoints: Checkpoints | None, desk: ChallengeDesk | None = None) -> None:
        super().__init__(process)
        self._fresh = fresh  # a new, prepared process for the same plugin and options
        self._checkpoints = checkpoints
        self._desk = desk  # [needs] challenge_board: what it may publish, and did

    def perform(self, challenges: Sequence[Challenge]) -> None:
        """Tell the desk which challenges the plugin may publish, then hand them over."""
        if self._desk is not None:
            self._desk.hand(challenges)
        super().perform(challenges)

    def cleanup(self, challenges: Sequence[Challenge]) -> None:
        """The plugin's cleanup, then the kernel reverts any temporary change it left.

        A plugin should revert its temporary checkpoint itself before it
        reloads its server; one that does not (or fails, or dies) still
        leaves nothing behind: the kernel restores the files here, whatever
        the cleanup did (PROTOCOL.md §5.5). Likewise the kernel withdraws
        from the challenge board whatever the plugin published and did not
        withdraw (PROTOCOL.md §5.2).
        """
        try:
            if self.process.closed or self.process.popen.poll() is not None:
                self.process = self._fresh()
            super().cleanup(challenges)
        finally:
            if self._desk is not None:
                self._desk.settle(challenges)
            if self._checkpoints is not None:
                self._checkpoints.revert_own_temporary()


class FinalizingInstaller(RemoteInstaller):
    """An installer whose titled ``save`` the kernel itself turns into a finalized checkpoint.

    PROTOCOL.md §5.3/§5.5: ``save {title, temporary: false}`` with a title
    ends a step; once the plugin has written its files the kernel closes the
    in-progress checkpoint under that title.  A plugin that also calls
    ``checkpoint/finalize`` (as Certbot's installers do) changes nothing:
    the kernel then finds no checkpoint in progress.
    """

    def __init__(self, process: PluginProcess, checkpoints: Checkpoints | None) -> None:
        super().__init__(process)
        self._checkpoints = checkpoints

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        super().save(title, temporary)
        if title and not temporary and self._checkpoints is not None:
            self._checkpoints.finalize(title)
