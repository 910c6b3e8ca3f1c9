"""The kernel's side of ``challenge/publish`` and ``challenge/withdraw`` for one plugin.

A plugin that declares ``[needs] challenge_board`` never writes the board
itself: it asks the kernel. Every plugin is hostile, so the kernel
publishes only what it handed to that plugin: the token of an http-01 challenge in a ``perform`` of this run,
with exactly the key authorization the kernel computed for it. Anything
else (another plugin's token, a token of another host, a key authorization
of the plugin's own making) is refused with ``InvalidParams``, and nothing
reaches the board.

The desk also owns the guarantee that nothing stays published after the
order: once ``cleanup`` has returned, failed, or the plugin died, the kernel
withdraws whatever the plugin published and did not withdraw
(:meth:`ChallengeDesk.settle`), then forgets those challenges, so a late
``challenge/publish`` for them is refused too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from certkernel import errors
from certkernel.interfaces import ChallengeBoard
from certkernel.protocol.messages import Challenge

logger = logging.getLogger(__name__)

HTTP01 = "http-01"


class ChallengeDesk:
    """What one plugin may publish, and what it did; thread-safe.

    The plugin's requests arrive on its reader thread while the kernel's
    ``perform`` call is in flight on another, hence the lock. One desk per
    plugin process key (a fresh process after a crash keeps the desk, so its
    cleanup may still withdraw what the dead one published).
    """

    def __init__(self, board: ChallengeBoard, plugin: str) -> None:
        self.board = board
        self.plugin = plugin
        self._handed: dict[str, str] = {}  # token -> key authorization
        self._published: set[str] = set()
        self._lock = threading.Lock()

    def hand(self, challenges: Sequence[Challenge]) -> None:
        """Record the http-01 challenges about to go to the plugin in ``perform``."""
        with self._lock:
            for chall in challenges:
                if chall.type == HTTP01:
                    self._handed[chall.token] = chall.key_authorization

    def _refuse(self, method: str, token: str) -> errors.InvalidParams:
        return errors.InvalidParams(
            f"{self.plugin}: {method} refused: {token!r:.80} is not the token of an http-01 "
            "challenge the kernel handed to this plugin in this run")

    def publish(self, token: str, key_authorization: str) -> None:
        """Put the handed key authorization on the board; ``InvalidParams`` for anything else."""
        with self._lock:
            expected = self._handed.get(token)
            if expected is None:
                raise self._refuse("challenge/publish", token)
            if key_authorization != expected:
                raise errors.InvalidParams(
                    f"{self.plugin}: challenge/publish refused: the key authorization for token "
                    f"{token} is not the one the kernel computed for it")
            self._put(token, key_authorization)
            self._published.add(token)
        logger.debug("%s published the http-01 answer for token %s", self.plugin, token)

    def _put(self, token: str, key_authorization: str) -> None:
        try:
            self.board.publish(token, key_authorization)
        except errors.StorageError as exc:
            raise errors.PluginError(
                f"{self.plugin}: the kernel could not publish token {token}: {exc}") from exc

    def withdraw(self, token: str) -> None:
        """Take a handed token off the board (harmless when it is not there)."""
        with self._lock:
            if token not in self._handed:
                raise self._refuse("challenge/withdraw", token)
            self._take(token)

    def _take(self, token: str) -> None:
        try:
            self.board.withdraw(token)
        except errors.StorageError as exc:
            raise errors.PluginError(
                f"{self.plugin}: the kernel could not withdraw token {token}: {exc}") from exc
        self._published.discard(token)

    def settle(self, challenges: Sequence[Challenge]) -> None:
        """After ``cleanup``: withdraw what is still published of ``challenges``, forget them.

        Never raises: a board that cannot be written is logged (the entry is
        a public key authorization for a challenge that is over), and the
        rest are still withdrawn.
        """
        with self._lock:
            for chall in challenges:
                if chall.type != HTTP01 or chall.token not in self._handed:
                    continue
                if chall.token in self._published:
                    logger.info("%s left token %s published; the kernel withdraws it",
                                self.plugin, chall.token)
                    try:
                        self._take(chall.token)
                    except errors.PluginError as exc:
                        logger.warning("%s", exc)
                del self._handed[chall.token]
