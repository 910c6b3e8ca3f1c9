"""The seams between the kernel's engines and what they drive, as structural types.

The issuance engine, the deploy code and the renewal runner accept any
object with these methods: the plugin host's ``RemoteAuthenticator`` and
``RemoteInstaller`` (plugin processes), ``certkernel.lock.FileLock``, or an
in-process object in tests. ``typing.Protocol`` keeps the engines free of any
dependency on the host, and a second implementation (a shared store's
locker, say) has a written contract to meet.

Each method says, in the manner of certmagic's Storage and Locker: what it
raises (classes from ``certkernel.errors``), whether it may be called from
several threads or processes at once, and whether repeating it is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from certkernel.protocol.messages import Challenge, LineageInfo


@runtime_checkable
class Authenticator(Protocol):
    """Proves control of identifiers by publishing challenge responses.

    Every method raises ``PluginError`` (the plugin refused or failed, one line
    from the plugin) or ``TransportError`` (its process died, hung or broke
    the protocol). One object is used by one thread at a time.
    """

    def get_chall_pref(self, domain: str) -> list[str]:
        """Challenge types this authenticator can do for ``domain``, best first."""
        ...

    def perform(self, challenges: list[Challenge]) -> None:
        """Publish every challenge response (one call for all of this plugin's)."""
        ...

    def cleanup(self, challenges: list[Challenge]) -> None:
        """Remove what perform published; called even when issuance failed.

        Idempotent: cleaning up a challenge that was never published, or was
        already cleaned up, is not an error.
        """
        ...


@runtime_checkable
class Installer(Protocol):
    """Puts certificates into a server's configuration (PROTOCOL.md §5.3).

    Every method raises ``PluginError`` or ``TransportError`` as
    :class:`Authenticator` does. One object is used by one thread at a time;
    the caller holds the installer's server-root lock
    (``certkernel.deploy.installer_locked``) around a run of changes, so two
    certkernel processes never change one server tree at once. Changes are
    not idempotent in general (a second ``enhance`` may add a second
    redirect): the caller checkpoints first and asks once.
    """

    name: str

    @property
    def process(self) -> object:
        """The running plugin this handle talks to: two handles on one process share it,
        so a caller can group work per process (one save and one reload each)."""
        ...

    @property
    def capabilities(self) -> list[str]: ...

    def get_all_names(self) -> list[str]: ...

    def deploy_cert(self, domain: str, cert_path: str, key_path: str, chain_path: str,
                    fullchain_path: str) -> None: ...

    def supported_enhancements(self) -> list[str]: ...

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None: ...

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        """Write the pending changes; a ``title`` makes them one rollback-able checkpoint."""
        ...

    def config_test(self) -> None:
        """Raise ``PluginError`` when the server would not accept its configuration."""
        ...

    def restart(self) -> None:
        """Reload the server so it reads the saved configuration; repeating it is harmless."""
        ...

    def recovery_routine(self) -> None:
        """Undo unsaved and temporary changes; repeating it is harmless."""
        ...

    def renew_deploy(self, lineage: LineageInfo) -> None: ...

    def update_autohsts(self, domain: str) -> None: ...

    def deploy_autohsts(self, lineage: LineageInfo) -> None: ...

    def enable_autohsts(self, lineage: LineageInfo, domains: Sequence[str]) -> None: ...


@runtime_checkable
class Locker(Protocol):
    """One exclusive, bounded lock on one named thing (a lineage, an account,
    a server root, the checkpoint store).

    - ``acquire`` waits at most the lock's timeout, then raises ``LockError``
      naming the holder (its PID) and what to do; it never waits forever.
      Taking a lock this object already holds is a no-op (idempotent).
    - ``release`` is idempotent and never raises; a holder that dies (even by
      SIGKILL) releases its locks, so no lock outlives its process.
    - Exclusion holds between processes and between threads, provided each
      thread uses its own object: one object is one holder.
    - A lock says nothing about the state it guards: after ``acquire`` the
      caller re-reads that state (the renewal runner reloads the lineage and
      skips it if another run made a new version meanwhile).
    """

    @property
    def held(self) -> bool: ...

    def acquire(self) -> None: ...

    def release(self) -> None: ...


class CheckpointEntry(Protocol):
    """One checkpoint as a store lists it."""

    @property
    def kind(self) -> str:
        """``finalized``, ``in-progress`` or ``temporary``."""
        ...


class RestoreResult(Protocol):
    """What restoring one checkpoint changed back."""

    @property
    def restored(self) -> Sequence[str]: ...

    @property
    def removed(self) -> Sequence[str]: ...


class CheckpointStore(Protocol):
    """The kernel's own copies of server configuration (``certkernel.reverter.Reverter``),
    as the deploy code uses them to undo a failed deployment.

    - The caller holds the store (``with Reverter(...)``), which takes its
      ``Locker`` for the whole run: another certkernel process waits, bounded,
      and fails with ``LockError`` naming the holder. One thread uses it at a
      time.
    - ``recovery_routine`` and ``rollback`` raise ``ReverterError`` when the
      store itself cannot be read or written; a single file they may not
      touch (outside its recorded roots, now a symlink) is reported in the
      result as refused, not raised.
    - ``recovery_routine`` is idempotent (a second call finds nothing
      unfinished); ``rollback(n)`` is not (each call undoes n more).
    """

    def view(self) -> Sequence[CheckpointEntry]: ...

    def recovery_routine(self) -> Sequence[RestoreResult]: ...

    def rollback(self, count: int) -> Sequence[RestoreResult]: ...
