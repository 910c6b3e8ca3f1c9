"""The plugin's handle on the kernel: log, progress, prompts, storage, checkpoints.

Every method is one protocol call (PROTOCOL.md §5.4, §5.5). Prompts carry
the CLI flag that answers them so that a non-interactive run can fail with a
message naming it; the kernel raises ``MissingCommandlineFlag`` then, and it
reaches the plugin as that exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from certkernel.protocol.rpc import Endpoint


def _opt(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


class Kernel:
    """Callbacks into the kernel, usable from any thread of the plugin."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    # -- notifications -----------------------------------------------------

    def log(self, level: str, message: str) -> None:
        """Send a line to the kernel's log (``debug``/``info``/``warning``/``error``)."""
        self._endpoint.notify("$/log", {"level": level, "message": message})

    def progress(self, message: str, done: int | None = None, total: int | None = None) -> None:
        """Say what the plugin is waiting for; shown on a terminal."""
        self._endpoint.notify("$/progress", _opt(message=message, done=done, total=total))

    # -- display -------------------------------------------------------------

    def notify(self, message: str, pause: bool = False) -> None:
        self._endpoint.call("display/notification", {"message": message, "pause": pause})

    def input(
        self, message: str, default: str | None = None, cli_flag: str | None = None
    ) -> str | None:
        """Ask for a line of text; None when the user cancelled."""
        result = self._endpoint.call(
            "display/input", _opt(message=message, default=default, cli_flag=cli_flag)
        )
        return str(result["value"]) if result.get("ok") else None

    def yesno(
        self,
        message: str,
        default: bool | None = None,
        cli_flag: str | None = None,
        yes_label: str = "Yes",
        no_label: str = "No",
    ) -> bool:
        result = self._endpoint.call(
            "display/yesno",
            _opt(
                message=message,
                default=default,
                cli_flag=cli_flag,
                yes_label=yes_label,
                no_label=no_label,
            ),
        )
        return bool(result.get("value"))

    def menu(
        self,
        message: str,
        choices: Sequence[str],
        default: int | None = None,
        cli_flag: str | None = None,
    ) -> int | None:
        """Let the user pick one of ``choices``; the index, or None if cancelled."""
        result = self._endpoint.call(
            "display/menu",
            _opt(message=message, choices=list(choices), default=default, cli_flag=cli_flag),
        )
        return int(result["index"]) if result.get("ok") else None

    def checklist(
        self,
        message: str,
        tags: Sequence[str],
        default: Sequence[str] | None = None,
        cli_flag: str | None = None,
    ) -> list[str] | None:
        result = self._endpoint.call(
            "display/checklist",
            _opt(
                message=message,
                tags=list(tags),
                default=list(default) if default is not None else None,
                cli_flag=cli_flag,
            ),
        )
        return [str(v) for v in result.get("values", [])] if result.get("ok") else None

    def directory_select(
        self, message: str, default: str | None = None, cli_flag: str | None = None
    ) -> str | None:
        result = self._endpoint.call(
            "display/directory_select", _opt(message=message, default=default, cli_flag=cli_flag)
        )
        return str(result["value"]) if result.get("ok") else None

    # -- storage ---------------------------------------------------------------

    def storage_get(self, key: str) -> Any:
        """The stored value for ``key``, or None."""
        result = self._endpoint.call("storage/get", {"key": key})
        return result.get("value") if result.get("found") else None

    def storage_put(self, key: str, value: Any) -> None:
        self._endpoint.call("storage/put", {"key": key, "value": value})

    def storage_delete(self, key: str) -> None:
        self._endpoint.call("storage/delete", {"key": key})

    # -- checkpoints -------------------------------------------------------------

    def checkpoint_add(self, files: Sequence[str], temporary: bool = False) -> None:
        """Register files before changing them; the kernel keeps their bytes."""
        self._endpoint.call("checkpoint/add", {"files": list(files), "temporary": temporary})

    def checkpoint_register_new(self, files: Sequence[str], temporary: bool = False) -> None:
        """Register files about to be created; a rollback deletes them."""
        self._endpoint.call(
            "checkpoint/register_new", {"files": list(files), "temporary": temporary}
        )

    def checkpoint_finalize(self, title: str) -> None:
        self._endpoint.call("checkpoint/finalize", {"title": title})

    def checkpoint_revert_temporary(self) -> None:
        self._endpoint.call("checkpoint/revert_temporary", {})

    def checkpoint_rollback(self, count: int = 1) -> None:
        self._endpoint.call("checkpoint/rollback", {"count": count})
