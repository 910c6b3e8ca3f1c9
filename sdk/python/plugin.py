"""Base classes a plugin author subclasses.

An authenticator must implement three methods and an installer seven; every
other method has a safe default, and optional extras (auto-HSTS,
renew-deploy) are announced as capabilities so the kernel only calls what
exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from certkernel.protocol.messages import Challenge, LineageInfo

if TYPE_CHECKING:
    from certkernel.protocol.rpc import Endpoint
    from certkernel.sdk.kernel import Kernel


class Plugin:
    """What every plugin has: its configuration and the kernel handle.

    The attributes are filled from ``initialize`` before ``prepare`` runs.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.0.0"
    capabilities: ClassVar[tuple[str, ...]] = ()

    options: dict[str, Any]
    secrets: dict[str, str]
    settings: dict[str, Any]
    state_dir: str
    fds: dict[str, list[int]]
    kernel_version: str
    kernel: Kernel
    _endpoint: Endpoint

    def prepare(self) -> None:
        """Check that the plugin can work here; raise a PluginError if not."""

    def more_info(self) -> str:
        """A paragraph for ``certkernel plugins``."""
        return (self.__doc__ or "").strip()

    def shutdown(self) -> None:
        """Release resources before the process exits."""

    @property
    def cancelled(self) -> bool:
        """True once the kernel has cancelled the call being handled.

        Reading it takes in pending input without waiting, so a long loop
        that checks it notices ``$/cancel`` promptly.
        """
        self._endpoint.poll_input()
        return self._endpoint.current_request_cancelled


class Authenticator(Plugin):
    """Proves control of identifiers by publishing challenge responses."""

    def get_chall_pref(self, domain: str) -> list[str]:
        """Challenge types usable for ``domain``, best first."""
        raise NotImplementedError

    def perform(self, challenges: list[Challenge]) -> None:
        """Publish every challenge; return when the CA may validate."""
        raise NotImplementedError

    def cleanup(self, challenges: list[Challenge]) -> None:
        """Remove what ``perform`` published; must tolerate partial state."""
        raise NotImplementedError

    def per_domain_value(self, challenge: Challenge, option: str) -> str | None:
        """The value of the per-domain map ``option`` for ``challenge``'s name, or None.

        A kernel that sends the challenge's ``per_domain`` field speaks for
        the challenge's own lineage (PROTOCOL.md §8): its value is the only
        one, and none there means none was given: a process that lineages
        share (``[needs] per_domain_from_challenge``) has no lineage's values
        in ``self.options``. Only an older kernel, which sends no such field,
        leaves the answer to ``self.options[option]``.
        """
        if challenge.per_domain is not None:
            return challenge.per_domain.get(option) or None
        names = {challenge.identifier.lower()}
        if challenge.wildcard:
            names.add(f"*.{challenge.identifier.lower()}")
        for key, value in (self.options.get(option) or {}).items():
            if names & {n.strip().lower() for n in str(key).split(",")} and value:
                return str(value)
        return None


class Installer(Plugin):
    """Puts certificates into a server's configuration."""

    def get_all_names(self) -> list[str]:
        raise NotImplementedError

    def deploy_cert(
        self, domain: str, cert_path: str, key_path: str, chain_path: str, fullchain_path: str
    ) -> None:
        raise NotImplementedError

    def supported_enhancements(self) -> list[str]:
        return []

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        raise NotImplementedError

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        raise NotImplementedError

    def config_test(self) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        raise NotImplementedError

    def recovery_routine(self) -> None:
        """Forget unsaved in-memory changes; the kernel restores the files."""

    def renew_deploy(self, lineage: LineageInfo) -> None:
        """Install a renewed lineage (capability ``renew_deploy``)."""
        raise NotImplementedError

    def update_autohsts(self, domain: str) -> None:
        raise NotImplementedError

    def deploy_autohsts(self, lineage: LineageInfo) -> None:
        raise NotImplementedError

    def enable_autohsts(self, lineage: LineageInfo, domains: list[str]) -> None:
        raise NotImplementedError
