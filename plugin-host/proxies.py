"""Typed stand-ins that let the kernel call a plugin process like an object.

The ACME engine and the install code take any object with these methods
(``certkernel.interfaces``), so they do not know whether a plugin runs in
this process or another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from certkernel import errors
from certkernel.plugin_host.process import PluginProcess
from certkernel.protocol.messages import Challenge, LineageInfo


class RemotePlugin:
    """Methods every plugin has."""

    def __init__(self, process: PluginProcess) -> None:
        self.process = process
        self.name = process.name

    @property
    def capabilities(self) -> list[str]:
        caps = self.process.info.get("capabilities", [])
        return [str(c) for c in caps] if isinstance(caps, list) else []

    def prepare(self) -> None:
        self.process.call("prepare")

    def more_info(self) -> str:
        return str(self.process.call("more_info").get("text", ""))

    def ping(self) -> None:
        self.process.call("$/ping")

    def close(self) -> None:
        self.process.close()


def _strings(result: dict[str, Any], key: str, method: str, plugin: str) -> list[str]:
    value = result.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.ProtocolError(f"plugin {plugin}: {method} must return {{{key}: [str]}}")
    return list(value)


class RemoteAuthenticator(RemotePlugin):
    """An authenticator plugin (PROTOCOL.md §5.2)."""

    def get_chall_pref(self, domain: str) -> list[str]:
        result = self.process.call("get_chall_pref", {"domain": domain})
        return _strings(result, "challenges", "get_chall_pref", self.name)

    def perform(self, challenges: Sequence[Challenge]) -> None:
        self.process.call("perform", {"challenges": [c.to_wire() for c in challenges]})

    def cleanup(self, challenges: Sequence[Challenge]) -> None:
        self.process.call("cleanup", {"challenges": [c.to_wire() for c in challenges]})


class RemoteInstaller(RemotePlugin):
    """An installer plugin (PROTOCOL.md §5.3)."""

    def get_all_names(self) -> list[str]:
        return _strings(self.process.call("get_all_names"), "names", "get_all_names", self.name)

    def deploy_cert(
        self, domain: str, cert_path: str, key_path: str, chain_path: str, fullchain_path: str
    ) -> None:
        self.process.call(
            "deploy_cert",
            {
                "domain": domain,
                "cert_path": cert_path,
                "key_path": key_path,
                "chain_path": chain_path,
                "fullchain_path": fullchain_path,
            },
        )

    def supported_enhancements(self) -> list[str]:
        result = self.process.call("supported_enhancements")
        return _strings(result, "enhancements", "supported_enhancements", self.name)

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        self.process.call(
            "enhance", {"domain": domain, "enhancement": enhancement, "options": options}
        )

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        self.process.call("save", {"title": title, "temporary": temporary})

    def config_test(self) -> None:
        self.process.call("config_test")

    def restart(self) -> None:
        self.process.call("restart")

    def recovery_routine(self) -> None:
        self.process.call("recovery_routine")

    def renew_deploy(self, lineage: LineageInfo) -> None:
        self.process.call("renew_deploy", {"lineage": lineage.to_wire()})

    def update_autohsts(self, domain: str) -> None:
        self.process.call("update_autohsts", {"domain": domain})

    def deploy_autohsts(self, lineage: LineageInfo) -> None:
        self.process.call("deploy_autohsts", {"lineage": lineage.to_wire()})

    def enable_autohsts(self, lineage: LineageInfo, domains: Sequence[str]) -> None:
        self.process.call(
            "enable_autohsts", {"lineage": lineage.to_wire(), "domains": list(domains)}
        )
