"""Fixtures that run the built-in authenticators as real processes through the host.

Each test starts the plugin from its own ``plugin.toml`` with
``start_plugin`` and talks to it through ``RemoteAuthenticator``, exactly
as the kernel does; prompts are answered by the SDK's ScriptedDisplay
(``certkernel.sdk.testing``), handed to the real kernel services.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.manifest import Manifest, load_manifest
from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.proxies import RemoteAuthenticator
from certkernel.plugin_host.sandbox import limits_for, lookup_user
from certkernel.plugin_host.services import KernelServices
from certkernel.protocol.messages import Challenge
from certkernel.sdk.testing import ScriptedDisplay

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"


def manifest(name: str) -> Manifest:
    return load_manifest(PLUGINS / name / "plugin.toml")


StartPlugin = Callable[..., RemoteAuthenticator]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[StartPlugin]:
    """Start a built-in plugin as a process; every one started is stopped afterwards."""
    started: list[PluginProcess] = []

    def _start(
        name: str,
        options: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        fds: Mapping[str, Sequence[int]] | None = None,
        terminal: ScriptedDisplay | None = None,
        user: int | None = None,
        state: str | None = None,
    ) -> RemoteAuthenticator:
        m = manifest(name)
        opts = {o.name: o.default for o in m.options}
        opts.update(options or {})
        services = KernelServices(name, display=terminal or ScriptedDisplay())
        proc = start_plugin(
            m,
            services.handle,
            options=opts,
            settings=dict(settings or {}),
            state_dir=str(tmp_path / (state or f"state-{name}-{len(started)}")),
            fds=fds,
            user=None if user is None else lookup_user(str(user)),
            limits=None if user is None else limits_for(m),
            logger=logging.getLogger(f"test.plugins.{name}"),
        )
        started.append(proc)
        return RemoteAuthenticator(proc)

    yield _start
    for proc in started:
        proc.kill()


def http01(identifier: str, token: str, thumb: str = "thumbprint", **extra: Any) -> Challenge:
    """An http-01 challenge as the kernel computes it."""
    keyauth = f"{token}.{thumb}"
    return Challenge(
        identifier=identifier,
        type="http-01",
        token=token,
        key_authorization=keyauth,
        validation=keyauth,
        uri_path=f"/.well-known/acme-challenge/{token}",
        **extra,
    )


def dns01(identifier: str, token: str, wildcard: bool = False) -> Challenge:
    """A dns-01 challenge (the TXT value computed as the kernel does)."""
    import base64
    import hashlib

    keyauth = f"{token}.thumbprint"
    txt = base64.urlsafe_b64encode(hashlib.sha256(keyauth.encode()).digest()).decode().rstrip("=")
    return Challenge(
        identifier=identifier,
        type="dns-01",
        token=token,
        key_authorization=keyauth,
        validation=txt,
        wildcard=wildcard,
        validation_domain_name=f"_acme-challenge.{identifier}",
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
