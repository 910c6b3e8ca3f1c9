"""What the ACME engine needs from an authenticator, as a structural type.

The issuance code accepts any object with these methods: the plugin host's
``RemoteAuthenticator`` (a plugin process), or an in-process object in tests.
A ``typing.Protocol`` keeps the engine free of any dependency on the host.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from certkernel.protocol.messages import Challenge


@runtime_checkable
class Authenticator(Protocol):
    """Proves control of identifiers by publishing challenge responses."""

    def get_chall_pref(self, domain: str) -> list[str]:
        """Challenge types this authenticator can do for ``domain``, best first."""
        ...

    def perform(self, challenges: list[Challenge]) -> None:
        """Publish every challenge response (one call for all of this plugin's)."""
        ...

    def cleanup(self, challenges: list[Challenge]) -> None:
        """Remove what perform published; called even when issuance failed."""
        ...
