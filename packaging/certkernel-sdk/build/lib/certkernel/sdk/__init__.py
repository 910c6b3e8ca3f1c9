"""The certkernel plugin SDK for Python.

Subclass :class:`Authenticator` and/or :class:`Installer`, then call
:func:`serve`. See ``sdk/README.md`` and ``protocol/PROTOCOL.md``.
"""

from certkernel.protocol.errors import (
    MisconfigurationError,
    MissingCommandlineFlag,
    NoInstallationError,
    NotSupportedError,
    PluginEnhancementAlreadyPresent,
    PluginError,
    PluginStorageError,
)
from certkernel.protocol.messages import Challenge, LineageInfo
from certkernel.sdk.kernel import Kernel
from certkernel.sdk.plugin import Authenticator, Installer, Plugin
from certkernel.sdk.server import protect_stdio, serve

# The SDK's own release (packaging/certkernel-sdk: pyproject.toml, CHANGELOG.md).
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Authenticator",
    "Challenge",
    "Installer",
    "Kernel",
    "LineageInfo",
    "MisconfigurationError",
    "MissingCommandlineFlag",
    "NoInstallationError",
    "NotSupportedError",
    "Plugin",
    "PluginEnhancementAlreadyPresent",
    "PluginError",
    "PluginStorageError",
    "protect_stdio",
    "serve",
]
