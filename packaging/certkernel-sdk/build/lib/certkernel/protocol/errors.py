"""The protocol's error vocabulary (PROTOCOL.md §6), shared by kernel and SDK.

It lives here, not in the kernel, because a plugin installs only
``certkernel-sdk`` (this package plus the SDK): the errors it raises and the
errors its calls to the kernel can fail with must come with the protocol.
The kernel's ``certkernel.errors`` re-exports every class below, so there is
still one exception tree, rooted at :class:`Error`.

Two branches, because they mean different things to whoever catches them:

- :class:`PluginError` and its subclasses are what a plugin *says*: the
  ``type`` names a plugin may put in an error map (``PLUGIN_ERROR_TYPES``).
  The call reached the plugin, the plugin answered, and the answer is "no".
- :class:`TransportError` and its subclasses are what happened *to the
  conversation*: the peer crashed, timed out, broke the wire (a violation),
  was cancelled, or refused the call's shape (unknown method, bad params).
  No plugin decision is behind them.

Code that means "anything went wrong with this call" catches
:class:`CallError`, the common parent of both. A kernel-only failure, such as
a missing ``-d``, belongs to neither (see ``certkernel.errors``).

This module imports nothing but the standard library: the kernel's
``--help`` path and every plugin import it.
"""

from __future__ import annotations

from typing import Any


class Error(Exception):
    """Root of certkernel's exceptions (kernel, protocol and SDK alike)."""


class CallError(Error):
    """A protocol call did not produce a result.

    ``data`` carries the error map's details across the protocol (the flag
    for MissingCommandlineFlag, a config test's output); ``code`` is the
    protocol error code when the error came from a peer.
    """

    def __init__(self, message: str = "", *, data: Any = None, code: int | None = None) -> None:
        super().__init__(message)
        self.data = data
        self.code = code


# -- branch 1: what a plugin may raise --------------------------------------


class PluginError(CallError):
    """A plugin failed to do what was asked, and said why."""


class MisconfigurationError(PluginError):
    """The plugin found the server's configuration unusable."""


class NoInstallationError(PluginError):
    """The software the plugin drives is not installed here."""


class NotSupportedError(PluginError):
    """The plugin cannot do what was asked on this system."""


class MissingCommandlineFlag(PluginError):
    """A value is needed that only a prompt or a flag could give.

    Raised in non-interactive runs; the message names the flag.
    """


class PluginEnhancementAlreadyPresent(PluginError):
    """The enhancement is already configured; nothing to do."""


class PluginStorageError(PluginError):
    """The plugin's key-value storage could not be read or written."""


# -- branch 2: what happened to the conversation ----------------------------


class TransportError(CallError):
    """The conversation with the peer failed: no decision of the plugin is behind it."""


class ProtocolError(TransportError):
    """The peer broke the wire protocol (bad bytes, bad shape, bad version): a violation."""


class PluginTimeout(TransportError):
    """A call ran past its deadline."""


class PluginCrashed(TransportError):
    """The peer process ended while a call was in flight."""


class CallCancelled(TransportError):
    """The call was cancelled before it finished."""


class MethodNotFound(TransportError):
    """The peer does not implement the method that was called."""


class InvalidParams(TransportError):
    """The peer rejected a call's params (missing or mistyped field)."""


class InvalidRequest(TransportError):
    """The peer received a message of the wrong shape and said so."""


class RemoteInternalError(TransportError):
    """The peer's code raised something it did not map to a plugin error."""


# The error types a plugin may put in an error's ``type`` field, by name.
PLUGIN_ERROR_TYPES: dict[str, type[PluginError]] = {
    cls.__name__: cls
    for cls in (
        PluginError,
        MisconfigurationError,
        NoInstallationError,
        NotSupportedError,
        MissingCommandlineFlag,
        PluginEnhancementAlreadyPresent,
        PluginStorageError,
    )
}
