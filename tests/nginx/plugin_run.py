"""The nginx plugin as a real process through the plugin host, for a test's private nginx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from certkernel.plugin_host.discovery import discover
from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.proxies import RemoteAuthenticator, RemoteInstaller
from certkernel.plugin_host.services import KernelServices
from tests.nginx.checkpoints import FileCheckpoints
from tests.nginx.conftest import Site


@contextmanager
def nginx_plugin(site: Site, tmp_path: Path, cps: FileCheckpoints) -> Iterator[tuple[RemoteInstaller, RemoteAuthenticator]]:
    manifest = discover()["nginx"]
    services = KernelServices("nginx", checkpoints=cps, roots=[str(site.root), str(tmp_path)])
    proc = start_plugin(
        manifest, services.handle,
        options={"server-root": str(site.root)},
        settings={"https_port": site.https_port, "http01_port": site.http_port,
                  "config_dir": str(tmp_path / "le"), "non_interactive": True},
        state_dir=str(tmp_path / "state"),
    )
    with proc:
        installer, auth = RemoteInstaller(proc), RemoteAuthenticator(proc)
        auth.prepare()
        yield installer, auth
