"""Typed stand-ins that let the kernel call a plugin process like an object.

The ACME engine and the install code take any object with these methods
(``certkernel.interfaces``), so they do not know whether a plugin runs in
this process or another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from certkernel import errors
from certkernel.plugin_host.process import PluginProcess
from certkernel.protocol import methods as wire
from certkernel.protocol.messages import Challenge, LineageInfo
from certkernel.protocol.wire_codec import Wire, WireError

R = TypeVar("R", bound=Wire)


class RemotePlugin:
    """Methods every plugin has."""

    def __init__(self, process: PluginProcess) -> None:
        self.process = process
        self.name = process.name

    def _call(self, method: str, params: Wire, result: type[R]) -> R:
        """One request built and checked by the registry (protocol/methods.py).

        A result that does not have the declared shape is the plugin breaking
        the protocol, said in one line naming the method and the field.
        """
        reply = self.process.call(method, wire.encode(method, params))
        try:
            return wire.decode_result(method, reply, result)
        except WireError as exc:
            raise errors.ProtocolError(f"plugin {self.name}: {exc}") from None

    @property
    def capabilities(self) -> list[str]:
        caps = self.process.info.get("capabilities", [])
        return [str(c) for c in caps] if isinstance(caps, list) else []

    def prepare(self) -> None:
        self._call("prepare", wire.Empty(), wire.Empty)

    def more_info(self) -> str:
        return self._call("more_info", wire.Empty(), wire.MoreInfoResult).text

    def ping(self) -> None:
        self._call("$/ping", wire.Empty(), wire.Empty)

    def close(self) -> None:
        self.process.close()


class RemoteAuthenticator(RemotePlugin):
    """An authenticator plugin (PROTOCOL.md §5.2)."""

    def get_chall_pref(self, domain: str) -> list[str]:
        params = wire.DomainParams(domain=domain)
        return self._call("get_chall_pref", params, wire.ChallPrefResult).challenges

    def perform(self, challenges: Sequence[Challenge]) -> None:
        self._call("perform", wire.ChallengesParams(challenges=list(challenges)), wire.Empty)

    def cleanup(self, challenges: Sequence[Challenge]) -> None:
        self._call("cleanup", wire.ChallengesParams(challenges=list(challenges)), wire.Empty)


class RemoteInstaller(RemotePlugin):
    """An installer plugin (PROTOCOL.md §5.3)."""

    def get_all_names(self) -> list[str]:
        return self._call("get_all_names", wire.Empty(), wire.NamesResult).names

    def deploy_cert(
        self, domain: str, cert_path: str, key_path: str, chain_path: str, fullchain_path: str
    ) -> None:
        params = wire.DeployCertParams(
            domain=domain, cert_path=cert_path, key_path=key_path, chain_path=chain_path,
            fullchain_path=fullchain_path)
        self._call("deploy_cert", params, wire.Empty)

    def supported_enhancements(self) -> list[str]:
        result = self._call("supported_enhancements", wire.Empty(), wire.EnhancementsResult)
        return result.enhancements

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        params = wire.EnhanceParams(domain=domain, enhancement=enhancement, options=options)
        self._call("enhance", params, wire.Empty)

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        self._call("save", wire.SaveParams(title=title, temporary=temporary), wire.Empty)

    def config_test(self) -> None:
        self._call("config_test", wire.Empty(), wire.Empty)

    def restart(self) -> None:
        self._call("restart", wire.Empty(), wire.Empty)

    def recovery_routine(self) -> None:
        self._call("recovery_routine", wire.Empty(), wire.Empty)

    def renew_deploy(self, lineage: LineageInfo) -> None:
        self._call("renew_deploy", wire.LineageParams(lineage=lineage), wire.Empty)

    def update_autohsts(self, domain: str) -> None:
        self._call("update_autohsts", wire.DomainParams(domain=domain), wire.Empty)

    def deploy_autohsts(self, lineage: LineageInfo) -> None:
        self._call("deploy_autohsts", wire.LineageParams(lineage=lineage), wire.Empty)

    def enable_autohsts(self, lineage: LineageInfo, domains: Sequence[str]) -> None:
        params = wire.EnableAutohstsParams(lineage=lineage, domains=list(domains))
        self._call("enable_autohsts", params, wire.Empty)
