"""The plugin's handle on the kernel: log, progress, prompts, storage, checkpoints, challenges.

Every method is one protocol call (PROTOCOL.md §5.4, §5.5). Prompts carry
the CLI flag that answers them so that a non-interactive run can fail with a
message naming it; the kernel raises ``MissingCommandlineFlag`` then, and it
reaches the plugin as that exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from certkernel.protocol import errors
from certkernel.protocol import methods as wire
from certkernel.protocol.rpc import Endpoint
from certkernel.protocol.wire_codec import Wire, WireError

R = TypeVar("R", bound=Wire)


class Kernel:
    """Callbacks into the kernel, usable from any thread of the plugin.

    Every call is built from and checked against the registry
    (``certkernel.protocol.methods``): what goes out has the declared
    fields only, and a reply without the declared shape is a ProtocolError.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    def _call(self, method: str, params: Wire, result: type[R]) -> R:
        reply = self._endpoint.call(method, wire.encode(method, params))
        try:
            return wire.decode_result(method, reply, result)
        except WireError as exc:
            raise errors.ProtocolError(f"the kernel answered {exc}") from None

    # -- notifications -----------------------------------------------------

    def log(self, level: str, message: str) -> None:
        """Send a line to the kernel's log (``debug``/``info``/``warning``/``error``)."""
        self._endpoint.notify("$/log", wire.encode("$/log", wire.LogParams(level, message)))

    def progress(self, message: str, done: int | None = None, total: int | None = None) -> None:
        """Say what the plugin is waiting for; shown on a terminal."""
        params = wire.ProgressParams(message=message, done=done, total=total)
        self._endpoint.notify("$/progress", wire.encode("$/progress", params))

    # -- display -------------------------------------------------------------

    def show_message(self, message: str, pause: bool = False) -> None:
        """Show the user a message (``display/notification``), waiting for Enter when ``pause``.

        A request the kernel answers once it is shown, not a protocol
        notification: those are :meth:`log` and :meth:`progress`.
        """
        self._call("display/notification", wire.NotificationParams(message, pause), wire.Empty)

    def input(
        self, message: str, default: str | None = None, cli_flag: str | None = None
    ) -> str | None:
        """Ask for a line of text; None when the user cancelled."""
        params = wire.InputParams(message=message, default=default, cli_flag=cli_flag)
        result = self._call("display/input", params, wire.TextChoiceResult)
        return result.value if result.ok else None

    def yesno(
        self,
        message: str,
        default: bool | None = None,
        cli_flag: str | None = None,
        yes_label: str = "Yes",
        no_label: str = "No",
    ) -> bool:
        params = wire.YesNoParams(message=message, default=default, cli_flag=cli_flag,
                                  yes_label=yes_label, no_label=no_label)
        return self._call("display/yesno", params, wire.YesNoResult).value

    def menu(
        self,
        message: str,
        choices: Sequence[str],
        default: int | None = None,
        cli_flag: str | None = None,
    ) -> int | None:
        """Let the user pick one of ``choices``; the index, or None if cancelled."""
        params = wire.MenuParams(message=message, choices=list(choices), default=default,
                                 cli_flag=cli_flag)
        result = self._call("display/menu", params, wire.MenuResult)
        return result.index if result.ok else None

    def checklist(
        self,
        message: str,
        tags: Sequence[str],
        default: Sequence[str] | None = None,
        cli_flag: str | None = None,
    ) -> list[str] | None:
        params = wire.ChecklistParams(
            message=message, tags=list(tags),
            default=list(default) if default is not None else None, cli_flag=cli_flag)
        result = self._call("display/checklist", params, wire.ChecklistResult)
        return result.values if result.ok else None

    def directory_select(
        self, message: str, default: str | None = None, cli_flag: str | None = None
    ) -> str | None:
        params = wire.InputParams(message=message, default=default, cli_flag=cli_flag)
        result = self._call("display/directory_select", params, wire.TextChoiceResult)
        return result.value if result.ok else None

    # -- storage ---------------------------------------------------------------

    def storage_get(self, key: str) -> Any:
        """The stored value for ``key``, or None."""
        result = self._call("storage/get", wire.KeyParams(key), wire.StorageGetResult)
        return result.value if result.found else None

    def storage_put(self, key: str, value: Any) -> None:
        self._call("storage/put", wire.StoragePutParams(key, value), wire.Empty)

    def storage_delete(self, key: str) -> None:
        self._call("storage/delete", wire.KeyParams(key), wire.Empty)

    # -- checkpoints -------------------------------------------------------------

    def checkpoint_add(self, files: Sequence[str], temporary: bool = False) -> None:
        """Register files before changing them; the kernel keeps their bytes."""
        self._call("checkpoint/add", wire.FilesParams(list(files), temporary), wire.Empty)

    def checkpoint_register_new(self, files: Sequence[str], temporary: bool = False) -> None:
        """Register files about to be created; a rollback deletes them."""
        params = wire.FilesParams(list(files), temporary)
        self._call("checkpoint/register_new", params, wire.Empty)

    def checkpoint_finalize(self, title: str) -> None:
        self._call("checkpoint/finalize", wire.TitleParams(title), wire.Empty)

    def checkpoint_revert_temporary(self) -> None:
        self._call("checkpoint/revert_temporary", wire.Empty(), wire.Empty)

    def checkpoint_rollback(self, count: int = 1) -> None:
        self._call("checkpoint/rollback", wire.RollbackParams(count), wire.Empty)

    # -- the http-01 challenge board (manifest: [needs] challenge_board) -------------

    def challenge_publish(self, token: str, key_authorization: str) -> None:
        """Have the kernel serve ``key_authorization`` for ``token`` (PROTOCOL.md §5.2).

        Only for a challenge the kernel handed to this plugin's ``perform``,
        with the key authorization it carried; anything else is refused
        (``InvalidParams``), as is every call of a plugin whose manifest does
        not declare ``[needs] challenge_board`` (``NotSupportedError``).
        """
        params = wire.ChallengePublishParams(token=token, key_authorization=key_authorization)
        self._call("challenge/publish", params, wire.Empty)

    def challenge_withdraw(self, token: str) -> None:
        """Stop serving ``token``; harmless when it is not published."""
        self._call("challenge/withdraw", wire.TokenParams(token=token), wire.Empty)
