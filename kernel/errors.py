"""The one exception tree of certkernel.

Every error a user can cause or meet derives from :class:`Error`, so the CLI
can print one clear line for any of them and keep tracebacks for the log.
The plugin error classes double as the protocol's error ``type`` names: a
plugin raising ``MisconfigurationError`` arrives in the kernel as exactly that
class (see ``protocol/PROTOCOL.md``, "Errors"). This module imports nothing
but the standard library, because both the SDK and the kernel's ``--help``
path import it.
"""

from __future__ import annotations

from typing import Any


class Error(Exception):
    """Root of certkernel's exceptions."""


class ConfigurationError(Error):
    """The user's flags or configuration files say something impossible."""


class ValidationError(ConfigurationError):
    """A user-given value (domain name, path, option) is malformed."""


class HookCommandNotFound(ConfigurationError):
    """A hook names a program that is not on PATH."""


class AccountError(Error):
    """Registering, loading or updating an ACME account failed."""


class AccountNotFound(AccountError):
    """No account exists for this server (or the named one is absent)."""


class AuthorizationError(Error):
    """The CA refused to validate one or more identifiers."""


class IssuanceError(Error):
    """An order could not be finalized or its certificate fetched."""


class CAError(Error):
    """The CA answered with an RFC 8555 problem document."""


class StorageError(Error):
    """A lineage, account or renewal conf on disk is missing or corrupt."""


class PathRefused(StorageError):
    """A path leads through a symlink, ``..`` or out of the directory it must stay in."""


class CertStorageError(StorageError):
    """A certificate lineage is inconsistent or unreadable."""


class LockError(Error):
    """Another certkernel process holds a lock we need."""


class HookError(Error):
    """A user hook failed (reported, never fatal for renewal)."""


class ReverterError(Error):
    """Checkpoints could not be written or restored."""


class CheckpointRefused(ReverterError):
    """A file given for a checkpoint is not acceptable: outside the roots, reached
    through a symlink, not a regular file, missing, or under a temporary change."""


class PluginError(Error):
    """A plugin failed, or the conversation with its process failed.

    ``data`` carries the error map's details across the protocol (the flag
    for MissingCommandlineFlag, a config test's output); ``code`` is the
    protocol error code when the error came from a peer.
    """

    def __init__(self, message: str = "", *, data: Any = None, code: int | None = None) -> None:
        super().__init__(message)
        self.data = data
        self.code = code


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


class ProtocolError(PluginError):
    """The plugin broke the wire protocol (bad bytes, bad shape, bad version)."""


class PluginTimeout(PluginError):
    """A plugin call ran past its deadline."""


class PluginCrashed(PluginError):
    """The plugin process ended while a call was in flight."""


class CallCancelled(PluginError):
    """The call was cancelled before it finished."""


class MethodNotFound(PluginError):
    """The peer does not implement the method that was called."""


class InvalidParams(PluginError):
    """The peer rejected a call's params (missing or mistyped field)."""


class InvalidRequest(PluginError):
    """The peer received a message of the wrong shape and said so."""


class RemoteInternalError(PluginError):
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
