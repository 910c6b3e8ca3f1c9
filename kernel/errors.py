"""The one exception tree of certkernel.

Every error a user can cause or meet derives from :class:`Error`, so the CLI
can print one clear line for any of them and keep tracebacks for the log.

The protocol's vocabulary -- the root :class:`Error`, what a plugin may raise
(:class:`PluginError` and below) and what can happen to a conversation
(:class:`TransportError`: crash, timeout, violation ...) -- is defined in
``certkernel.protocol.errors``, which ships with the SDK, and re-exported
here: ``errors.PluginError`` in the kernel *is* the class a plugin raises.
The classes defined below are the kernel's own and never cross the wire; a
kernel-only failure such as a missing ``-d`` (:class:`MissingFlag`) is a
:class:`ConfigurationError`, not a :class:`PluginError`.

This module imports nothing but the standard library and the protocol's
errors, because the kernel's ``--help`` path imports it.
"""

from __future__ import annotations

from certkernel.protocol.errors import (
    PLUGIN_ERROR_TYPES,
    CallCancelled,
    CallError,
    Error,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    MisconfigurationError,
    MissingCommandlineFlag,
    NoInstallationError,
    NotSupportedError,
    PluginCrashed,
    PluginEnhancementAlreadyPresent,
    PluginError,
    PluginStorageError,
    PluginTimeout,
    ProtocolError,
    RemoteInternalError,
    TransportError,
)

__all__ = [
    "PLUGIN_ERROR_TYPES",
    "AccountError",
    "AccountNotFound",
    "AuthorizationError",
    "CAError",
    "CallCancelled",
    "CallError",
    "CertStorageError",
    "ChallengeRefused",
    "CheckpointRefused",
    "ConfigurationError",
    "Error",
    "HookCommandNotFound",
    "InvalidParams",
    "InvalidRequest",
    "IssuanceError",
    "LineageNotFound",
    "LockError",
    "MethodNotFound",
    "MisconfigurationError",
    "MissingCommandlineFlag",
    "MissingFlag",
    "NoInstallationError",
    "NotSupportedError",
    "PathRefused",
    "PluginCrashed",
    "PluginEnhancementAlreadyPresent",
    "PluginError",
    "PluginStorageError",
    "PluginTimeout",
    "ProtocolError",
    "RemoteInternalError",
    "ReverterError",
    "StorageError",
    "TransportError",
    "ValidationError",
]


class ConfigurationError(Error):
    """The user's flags or configuration files say something impossible."""


class ValidationError(ConfigurationError):
    """A user-given value (domain name, path, option) is malformed."""


class MissingFlag(ConfigurationError):
    """The kernel needs a value that only a flag (or a prompt) could give.

    Raised in non-interactive runs (a missing ``-d``, an unanswered question);
    the message names the flag. The kernel's own counterpart of the protocol's
    MissingCommandlineFlag, which is what a *plugin* raises: this one never
    crosses the wire and is no :class:`PluginError`.
    """

    def __init__(self, message: str = "", *, flag: str | None = None) -> None:
        super().__init__(message)
        self.flag = flag


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


class StoreUnavailable(StorageError):
    """The fleet store (``--store``) cannot be reached or refused the connection."""


class PathRefused(StorageError):
    """A path leads through a symlink, ``..`` or out of the directory it must stay in."""


class ChallengeRefused(StorageError):
    """A token or key authorization for the http-01 challenge board that is not
    ACME's shape (RFC 8555 §8.1, §8.3: base64url; ``token "." thumbprint``)."""


class CertStorageError(StorageError):
    """A certificate lineage is inconsistent or unreadable."""


class LineageNotFound(CertStorageError):
    """No lineage of that name: its renewal conf does not exist (the store's
    ``load`` of a missing name; ``certkernel.interfaces.LineageStore``)."""


class LockError(Error):
    """Another certkernel process holds a lock we need."""


class ReverterError(Error):
    """Checkpoints could not be written or restored."""


class CheckpointRefused(ReverterError):
    """A file given for a checkpoint is not acceptable: outside the roots, reached
    through a symlink, not a regular file, missing, or under a temporary change."""
