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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from certkernel.protocol.messages import Challenge, LineageInfo

if TYPE_CHECKING:
    import datetime

    from certkernel.lineages.storage import Lineage


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
    (``certkernel.runtime.deploy.installer_locked``) around a run of changes, so two
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


@runtime_checkable
class LineageStore(Protocol):
    """Where certificate lineages live, and the lock each one is written under.

    The engines (the obtain flow, the renewal runner, ``obtain``) reach
    lineages through this seam only: ``certkernel.lineages.lineage_store.LocalStore``
    keeps Certbot's layout under ``--config-dir``; a shared store (fleet mode)
    can stand in for it. Whatever the store, the lineage it returns is a
    :class:`certkernel.lineages.storage.Lineage` materialized in the local layout,
    because web servers and hooks read ``live/<name>/``.

    - Errors: every method raises ``StorageError`` or a subclass, one line
      naming what is wrong: ``LineageNotFound`` (a ``CertStorageError``) for
      a name that does not exist, ``CertStorageError`` for a lineage that
      exists but is corrupt or incomplete; :meth:`lock` raises nothing (the
      returned ``Locker``'s ``acquire`` raises ``LockError``).
    - Concurrency: the methods may be called from several threads and
      processes at once. Reads (:meth:`names`, :meth:`load`) take no lock and
      see complete versions only (archive files first, links last, conf
      last). Writes (:meth:`create`, :meth:`save_version`,
      :meth:`save_renewalparams`, :meth:`delete`) are
      made by a caller holding ``lock(name)``; the store does not take it
      for them, so a caller can re-check and write under one hold.
    - Re-check: a plan made before the lock may be stale. After ``acquire``
      the caller calls :meth:`load` again and decides on what it reads (the
      renewal runner leaves a lineage that another run renewed meanwhile).
    - Idempotence: :meth:`names`, :meth:`load` and :meth:`lock` have no
      effect; :meth:`delete` of a missing name does nothing and returns
      ``False``; :meth:`create` and :meth:`save_version` are not idempotent
      (each call adds a lineage or a version); :meth:`save_renewalparams`
      with the same params is.
    """

    def names(self) -> list[str]:
        """Every lineage's name, sorted; raises ``StorageError`` when the store cannot be listed."""
        ...

    def load(self, name: str) -> Lineage:
        """The lineage ``name`` at its current version.

        Raises ``LineageNotFound`` when there is none, ``CertStorageError``
        when it is corrupt or has no complete version.
        """
        ...

    def create(self, name: str, cert: bytes, chain: bytes, fullchain: bytes, key_pem: bytes,
               renewalparams: Mapping[str, Any]) -> Lineage:
        """A new lineage with version 1; a taken ``name`` becomes ``name-0001`` and so on.

        Complete or not listed: a create that dies half way leaves nothing
        that :meth:`names` returns. Raises ``StorageError``.
        """
        ...

    def save_version(self, lineage: Lineage, cert: bytes, chain: bytes, fullchain: bytes,
                     key_pem: bytes | None,
                     renewalparams: Mapping[str, Any] | None = None) -> int:
        """Add the next version of ``lineage`` and make it current; returns its number.

        ``key_pem=None`` keeps the current key. The number is the next free
        one in the store, not ``lineage.version + 1``, so a stale object
        never overwrites another run's version. Raises ``StorageError``.
        """
        ...

    def save_renewalparams(self, lineage: Lineage, renewalparams: Mapping[str, Any]) -> None:
        """Replace the ``[renewalparams]`` of ``lineage``'s renewal conf (atomically:
        readers see the old conf or the new one). Raises ``StorageError``."""
        ...

    def delete(self, name: str) -> bool:
        """Remove lineage ``name``; ``False`` (and no error) when it does not exist.

        Its renewal conf goes first, so a half-done delete leaves no listed
        lineage. Raises ``StorageError`` when the conf cannot be removed.
        """
        ...

    def renewed_elsewhere(self, lineage: Lineage) -> bool:
        """Whether another run made ``lineage``'s current version during this run's window.

        The renewal runner asks after taking the lineage's lock and leaves a
        lineage for which this is True (one order per lineage and window).
        A shared store answers by its own clock, never a host's; a store of
        one host's files may always answer False (its runs plan from the same
        files, and a changed version number tells). Raises ``StorageError``.
        """
        ...

    def share_renewal_info(self, lineage: Lineage) -> None:
        """Offer the renewal information just cached for ``lineage``'s current certificate
        (``archive/<name>/ari.json``, :mod:`certkernel.ca.ari`) to the store's other readers.

        A shared store spares its other hosts the same question to the CA; a
        store of one host's files has nothing to do (the file is the store).
        Never raises: the information is a cache, and a failure is logged.
        """
        ...

    def now(self) -> datetime.datetime:
        """The time (aware, UTC) by which ``renew`` decides what is due.

        A store of one host's files answers with the host's clock. A shared
        store answers with its own (the database's), so hosts whose clocks
        disagree still agree on which lineage is due and order it once.
        Never raises.
        """
        ...

    def lock(self, name: str) -> Locker:
        """The (not yet taken) lock a writer of lineage ``name`` holds, bounded by
        the store's timeout (``Config.lock_timeout``)."""
        ...


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
    """The kernel's own copies of server configuration (``certkernel.checkpoints.reverter.Reverter``),
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


@runtime_checkable
class ChallengeBoard(Protocol):
    """Where http-01 key authorizations wait for the CA, so that a responder can serve them.

    ``certkernel.fleet.challenge_board.LocalBoard`` keeps them in files under
    ``--work-dir`` for the responder on this host; in fleet mode a shared
    board in the store lets every host's responder answer for a token any
    host requested. The kernel publishes and withdraws on behalf of a plugin
    (``challenge/publish``, ``challenge/withdraw``, PROTOCOL.md §5.2) after
    checking that the challenge is one it handed to that plugin; the
    ``certkernel responder`` only looks up.

    - Errors: :meth:`publish` and :meth:`withdraw` raise ``ChallengeRefused``
      (a ``StorageError``) for a token outside the base64url alphabet or a
      key authorization that is not ``token "." thumbprint``
      (``certkernel.fleet.challenge_board.check_challenge``), and ``StorageError``
      when the board cannot be written. :meth:`lookup` never raises for what
      a client sent: a malformed token, a missing one, or an entry it may not
      read (a symlink, not a regular file) is ``None``; it raises
      ``StorageError`` only when the board itself is unreachable.
    - Concurrency: every method may be called from several threads and
      processes (hosts, for a shared board) at once. A reader sees a key
      authorization whole or not at all, never half written.
    - Idempotence: :meth:`publish` of the same pair again, and
      :meth:`withdraw` of a token that is not (or no longer) published,
      change nothing and raise nothing; :meth:`lookup` has no effect.
    """

    def publish(self, token: str, key_authorization: str) -> None:
        """Make ``key_authorization`` the answer for ``token`` (replacing any older one)."""
        ...

    def withdraw(self, token: str) -> None:
        """Stop answering for ``token``."""
        ...

    def lookup(self, token: str) -> str | None:
        """The key authorization published for ``token``, or ``None``."""
        ...
