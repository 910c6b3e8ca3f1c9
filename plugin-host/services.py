"""The kernel's side of plugin → kernel calls: prompts, storage, checkpoints, challenges.

A plugin never touches the terminal, the config dir or backups itself; it
asks, and this module answers after checking what it was given. A plugin
whose manifest declares no checkpoint roots gets every ``checkpoint/*`` call
refused; file paths from the others must be absolute, normalized and
beneath one of their roots, and the checkpoint code then opens them beneath
that root without following a symlink.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from certkernel import errors
from certkernel.protocol import methods as wire
from certkernel.protocol.wire_codec import Wire, WireError


class Display(Protocol):
    """What the kernel's terminal layer offers (``certkernel.display``).

    Each prompt returns ``(ok, value)``; ``ok`` is False when the user
    cancelled. In a non-interactive run without a default it raises
    ``MissingCommandlineFlag`` naming ``cli_flag``.
    """

    def notification(self, message: str, pause: bool = False) -> None: ...

    def input(
        self, message: str, default: str | None = None, cli_flag: str | None = None
    ) -> tuple[bool, str]: ...

    def yesno(
        self,
        message: str,
        yes_label: str = "Yes",
        no_label: str = "No",
        default: bool | None = None,
        cli_flag: str | None = None,
    ) -> bool: ...

    def menu(
        self,
        message: str,
        choices: Sequence[str],
        default: int | None = None,
        cli_flag: str | None = None,
    ) -> tuple[bool, int]: ...

    def checklist(
        self,
        message: str,
        tags: Sequence[str],
        default: Sequence[str] | None = None,
        cli_flag: str | None = None,
    ) -> tuple[bool, list[str]]: ...

    def directory_select(
        self, message: str, default: str | None = None, cli_flag: str | None = None
    ) -> tuple[bool, str]: ...


class Storage(Protocol):
    """Plugin key-value storage, one section per plugin (``certkernel.runtime.plugin_storage``).

    - Errors: ``PluginStorageError`` only, one line (unreadable or corrupt
      file, a value over the per-plugin cap or not JSON, the lock still held
      after the run's ``lock_timeout``: it names the holder's PID).
    - Concurrency: safe from several threads and processes at once; writes
      are serialized and atomic, reads take no lock and see a whole file.
    - Idempotence: ``get`` has no effect (a missing key is ``(False, None)``,
      not an error); ``put`` of the same value and ``delete`` of a missing
      key change nothing.
    """

    def get(self, plugin: str, key: str) -> tuple[bool, Any]: ...
    def put(self, plugin: str, key: str, value: Any) -> None: ...
    def delete(self, plugin: str, key: str) -> None: ...


class Checkpoints(Protocol):
    def add(self, files: Sequence[str], temporary: bool = False, *,
            roots: Sequence[str], installer: Mapping[str, Any] | None = None) -> None: ...
    def register_new(self, files: Sequence[str], temporary: bool = False, *,
                     roots: Sequence[str], installer: Mapping[str, Any] | None = None) -> None: ...
    # Results are the store's own (a backup name, what was restored); the
    # protocol answers {} whatever they are.
    def finalize(self, title: str) -> object: ...
    def revert_temporary(self) -> object: ...
    def rollback(self, count: int) -> object: ...
    # The kernel's own calls (PROTOCOL.md §5.5): what a plugin's cleanup left.
    def revert_own_temporary(self) -> object: ...


class Challenges(Protocol):
    """The http-01 challenges the kernel handed to one plugin, and the board they go to
    (``certkernel.runtime.challenge_desk.ChallengeDesk``).

    - Errors: ``InvalidParams`` for a token the kernel did not hand to this
      plugin in this run, or a key authorization other than the one it
      computed (nothing reaches the board then); ``PluginError`` when the
      board cannot be written.
    - Concurrency: called from the plugin's reader thread while ``perform``
      runs on another; thread-safe.
    - Idempotence: publishing the same pair again, or withdrawing a handed
      token that is not published, changes nothing.
    """

    def publish(self, token: str, key_authorization: str) -> None: ...
    def withdraw(self, token: str) -> None: ...


ROOTS_FIELD = "[needs] checkpoint_roots"
BOARD_FIELD = "[needs] challenge_board"


def refuse_rootless(plugin: str, method: str) -> errors.NotSupportedError:
    """The error every checkpoint call of a plugin without declared roots gets."""
    return errors.NotSupportedError(
        f"{plugin}: {method} refused: the plugin's manifest declares no checkpoint roots. "
        f"An installer that changes files lists the options naming its folders in "
        f"{ROOTS_FIELD} of plugin.toml (see PROTOCOL.md, Confinement)",
        data={"manifest_field": ROOTS_FIELD},
    )


def check_paths(files: Any, roots: Sequence[str], plugin: str) -> list[str]:
    """Refuse paths a plugin may not have the kernel back up or delete.

    A string check only: absolute, normalized, strictly beneath a root.
    Nothing is resolved here; the checkpoint code opens each path beneath
    its root without following a symlink (``certkernel.beneath``), so a
    symlink planted anywhere on the way is refused at the moment of use.
    """
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise errors.InvalidParams("field 'files' must be a list of strings")
    checked = []
    for path in files:
        if not os.path.isabs(path) or os.path.normpath(path) != path or "\0" in path \
                or "\n" in path:
            raise errors.InvalidParams(
                f"{plugin}: path {path!r} must be absolute and normalized (no '..', no '//')"
            )
        if not any(path.startswith(r.rstrip("/") + "/") for r in roots):
            raise errors.InvalidParams(
                f"{plugin}: path {path!r} is outside the roots it may change "
                f"({', '.join(roots)}; set by the options in {ROOTS_FIELD})",
                data={"manifest_field": ROOTS_FIELD, "roots": list(roots)},
            )
        checked.append(path)
    return checked


@contextmanager
def _refusals(plugin: str) -> Iterator[None]:
    """A path the checkpoint code refused (a symlink on the way, not a regular file...)
    reaches the plugin as InvalidParams naming it; the kernel's own failures
    (a full disk under the work dir) as PluginError."""
    try:
        yield
    except errors.CheckpointRefused as exc:
        raise errors.InvalidParams(f"{plugin}: {exc}") from exc
    except errors.ReverterError as exc:
        raise errors.PluginError(f"{plugin}: the kernel could not save the checkpoint: {exc}") from exc


class KernelServices:
    """Answers one plugin's requests; one instance per plugin process."""

    def __init__(
        self,
        plugin: str,
        display: Display | None = None,
        storage: Storage | None = None,
        checkpoints: Checkpoints | None = None,
        roots: Sequence[str] = (),
        installer: Mapping[str, Any] | None = None,
        challenges: Challenges | None = None,
    ) -> None:
        """``installer``: recorded with each checkpoint this plugin makes (see Reverter.add).

        ``challenges``: given only to a plugin whose manifest declares
        ``[needs] challenge_board``; every ``challenge/*`` call of the others
        is refused."""
        self.plugin = plugin
        self.installer = installer
        self.display = display
        self.storage = storage
        self.checkpoints = checkpoints
        self.roots = list(roots)
        self.challenges = challenges
        self._methods: dict[str, Callable[[Any], Wire]] = {
            "display/notification": self._notification,
            "display/input": self._input,
            "display/yesno": self._yesno,
            "display/menu": self._menu,
            "display/checklist": self._checklist,
            "display/directory_select": self._directory_select,
            "storage/get": self._storage_get,
            "storage/put": self._storage_put,
            "storage/delete": self._storage_delete,
            "checkpoint/add": self._cp_add,
            "checkpoint/register_new": self._cp_new,
            "checkpoint/finalize": self._cp_finalize,
            "checkpoint/revert_temporary": self._cp_revert,
            "checkpoint/rollback": self._cp_rollback,
            "challenge/publish": self._challenge_publish,
            "challenge/withdraw": self._challenge_withdraw,
        }

    def handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Decode ``params`` by the registry, run the handler, encode its result.

        A missing or mistyped field is ``InvalidParams`` naming the method and
        the field; unknown fields are ignored (PROTOCOL.md §2).
        """
        handler = self._methods.get(method)
        if handler is None:
            raise errors.MethodNotFound(f"the kernel has no method {method!r}")
        try:
            decoded = wire.decode_params(method, params)
        except WireError as exc:
            raise errors.InvalidParams(f"{self.plugin}: {exc}") from None
        try:
            return wire.encode_result(method, handler(decoded))
        except errors.MissingFlag as exc:
            # The kernel's display refused a question; the plugin hears it in
            # the protocol's words (a MissingCommandlineFlag naming the flag).
            data = {"flag": exc.flag} if exc.flag else None
            raise errors.MissingCommandlineFlag(str(exc), data=data) from None

    # -- display -----------------------------------------------------------

    def _ui(self, flag: str | None = None) -> Display:
        """The terminal; without one, ``MissingCommandlineFlag`` carries the prompt's flag (§6)."""
        if self.display is None:
            raise errors.MissingCommandlineFlag(
                f"{self.plugin} asked a question, but no terminal is available",
                data={"flag": flag} if flag else None,
            )
        return self.display

    def _notification(self, p: wire.NotificationParams) -> wire.Empty:
        self._ui().notification(p.message, p.pause)
        return wire.Empty()

    def _input(self, p: wire.InputParams) -> wire.TextChoiceResult:
        ok, value = self._ui(p.cli_flag).input(p.message, p.default, p.cli_flag)
        return wire.TextChoiceResult(ok=ok, value=value)

    def _yesno(self, p: wire.YesNoParams) -> wire.YesNoResult:
        value = self._ui(p.cli_flag).yesno(
            p.message, p.yes_label or "Yes", p.no_label or "No", p.default, p.cli_flag)
        return wire.YesNoResult(value=value)

    def _menu(self, p: wire.MenuParams) -> wire.MenuResult:
        ok, index = self._ui(p.cli_flag).menu(p.message, p.choices, p.default, p.cli_flag)
        return wire.MenuResult(ok=ok, index=index)

    def _checklist(self, p: wire.ChecklistParams) -> wire.ChecklistResult:
        ok, values = self._ui(p.cli_flag).checklist(p.message, p.tags, p.default, p.cli_flag)
        return wire.ChecklistResult(ok=ok, values=values)

    def _directory_select(self, p: wire.InputParams) -> wire.TextChoiceResult:
        ok, value = self._ui(p.cli_flag).directory_select(p.message, p.default, p.cli_flag)
        return wire.TextChoiceResult(ok=ok, value=value)

    # -- storage -------------------------------------------------------------

    def _store(self) -> Storage:
        if self.storage is None:
            raise errors.PluginStorageError("plugin storage is not available in this command")
        return self.storage

    def _storage_get(self, p: wire.KeyParams) -> wire.StorageGetResult:
        found, value = self._store().get(self.plugin, p.key)
        return wire.StorageGetResult(found=found, value=value)

    def _storage_put(self, p: wire.StoragePutParams) -> wire.Empty:
        self._store().put(self.plugin, p.key, p.value)
        return wire.Empty()

    def _storage_delete(self, p: wire.KeyParams) -> wire.Empty:
        self._store().delete(self.plugin, p.key)
        return wire.Empty()

    # -- checkpoints -------------------------------------------------------

    def _cps(self, method: str) -> Checkpoints:
        if not self.roots:
            raise refuse_rootless(self.plugin, method)
        if self.checkpoints is None:
            raise errors.PluginError("checkpoints are not available in this command")
        return self.checkpoints

    def _cp_add(self, p: wire.FilesParams) -> wire.Empty:
        cps = self._cps("checkpoint/add")
        files = check_paths(p.files, self.roots, self.plugin)
        with _refusals(self.plugin):
            cps.add(files, p.temporary, roots=self.roots, installer=self.installer)
        return wire.Empty()

    def _cp_new(self, p: wire.FilesParams) -> wire.Empty:
        cps = self._cps("checkpoint/register_new")
        files = check_paths(p.files, self.roots, self.plugin)
        with _refusals(self.plugin):
            cps.register_new(files, p.temporary, roots=self.roots, installer=self.installer)
        return wire.Empty()

    def _cp_finalize(self, p: wire.TitleParams) -> wire.Empty:
        self._cps("checkpoint/finalize").finalize(p.title)
        return wire.Empty()

    def _cp_revert(self, p: wire.Empty) -> wire.Empty:
        self._cps("checkpoint/revert_temporary").revert_temporary()
        return wire.Empty()

    def _cp_rollback(self, p: wire.RollbackParams) -> wire.Empty:
        cps = self._cps("checkpoint/rollback")
        if p.count < 1:
            raise errors.InvalidParams("field 'count' must be a positive integer")
        cps.rollback(p.count)
        return wire.Empty()

    # -- the http-01 challenge board -------------------------------------------

    def _desk(self, method: str) -> Challenges:
        if self.challenges is None:
            raise errors.NotSupportedError(
                f"{self.plugin}: {method} refused: the plugin's manifest does not declare "
                f"{BOARD_FIELD} = true (see PROTOCOL.md §5.2)",
                data={"manifest_field": BOARD_FIELD})
        return self.challenges

    def _challenge_publish(self, p: wire.ChallengePublishParams) -> wire.Empty:
        self._desk("challenge/publish").publish(p.token, p.key_authorization)
        return wire.Empty()

    def _challenge_withdraw(self, p: wire.TokenParams) -> wire.Empty:
        self._desk("challenge/withdraw").withdraw(p.token)
        return wire.Empty()
