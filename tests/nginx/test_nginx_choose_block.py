"""No server block names the domain: the nginx plugin asks which one, through the kernel.

The plugin runs as its own process behind the real plugin host; the
question travels as ``display/menu`` to the kernel's side. What a user
checks: the menu lists the blocks, the one they pick serves the new
certificate over TLS (with its own content), and the question carries a
hint saying what to put in nginx's config, which is what a run that cannot
ask shows (there is no command-line flag for this, in Certbot either).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from certkernel.display import Display
from certkernel.errors import Error
from certkernel.plugin_host.discovery import discover
from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.proxies import RemoteInstaller
from certkernel.plugin_host.services import KernelServices
from tests.infra.nginx import https_get
from tests.infra.selfsigned import make_cert
from tests.infra.tls import served_certificate
from tests.nginx.checkpoints import FileCheckpoints
from tests.nginx.conftest import Site

DOMAIN = "new.test"


class MenuPicker:
    """A terminal that answers each menu with the entry containing ``pick``, recording the question."""

    def __init__(self, pick: str) -> None:
        self.pick = pick
        self.menus: list[tuple[str, list[str], str | None]] = []

    def menu(self, message: str, choices: Sequence[str], default: int | None = None,
             cli_flag: str | None = None) -> tuple[bool, int]:
        self.menus.append((message, list(choices), cli_flag))
        return True, next(i for i, c in enumerate(choices) if self.pick in c)


@contextmanager
def interactive_plugin(site: Site, tmp_path: Path, display: object) -> Iterator[RemoteInstaller]:
    services = KernelServices("nginx", display=display,  # type: ignore[arg-type]
                              checkpoints=FileCheckpoints(), roots=[str(site.root), str(tmp_path)])
    proc = start_plugin(
        discover()["nginx"], services.handle, options={"server-root": str(site.root)},
        settings={"https_port": site.https_port, "http01_port": site.http_port,
                  "config_dir": str(tmp_path / "le"), "non_interactive": False},
        state_dir=str(tmp_path / "state"),
    )
    with proc:
        installer = RemoteInstaller(proc)
        installer.prepare()
        yield installer


@pytest.fixture
def two_sites(site: Site) -> Site:
    """A second plain block (other.test) beside example.test, with its own content."""
    (site.root / "sites" / "other.conf").write_text(
        "server {\n"
        f"    listen 127.0.0.1:{site.http_port};\n"
        "    server_name other.test;\n"
        '    location / { return 200 "other site\\n"; }\n'
        "}\n")
    site.nginx.reload()
    return site


def test_chosen_block_serves_the_certificate(two_sites: Site, tmp_path: Path) -> None:
    site = two_sites
    cert = make_cert(tmp_path / "certs", [DOMAIN], "new")
    picker = MenuPicker("other.test")
    with interactive_plugin(site, tmp_path, picker) as installer:
        installer.deploy_cert(DOMAIN, "", cert.key, "", cert.fullchain)
        installer.save(f"Deployed {DOMAIN}", False)
        installer.restart()

    [(message, choices, cli_flag)] = picker.menus
    assert message.startswith(f"No server block has server_name {DOMAIN}.")
    assert len(choices) == 2
    assert any("example.test" in c for c in choices) and any("other.test" in c for c in choices)
    assert cli_flag == f"'server_name {DOMAIN};' in the nginx server block that should serve it"
    site.nginx.wait_for_certificate(site.https_port, DOMAIN, cert.serial)
    assert served_certificate("127.0.0.1", site.https_port, DOMAIN).serial_number == cert.serial
    status, _headers, body = https_get(site.https_port, DOMAIN)
    assert (status, body) == (200, b"other site\n")  # the picked block, not example.test's
    other = (site.root / "sites" / "other.conf").read_text()
    assert f"ssl_certificate {cert.fullchain};" in other
    assert "ssl_certificate" not in (site.root / "sites" / "example.conf").read_text()


def test_kernel_that_cannot_ask_names_the_config_fix(two_sites: Site, tmp_path: Path) -> None:
    """The kernel's own terminal, non-interactive: the one error line carries the hint."""
    site = two_sites
    before = {p.name: p.read_bytes() for p in (site.root / "sites").iterdir()}
    cert = make_cert(tmp_path / "certs", [DOMAIN], "new")
    display = Display(noninteractive=True, stdin=io.StringIO(), stdout=io.StringIO())
    with interactive_plugin(site, tmp_path, display) as installer:
        with pytest.raises(Error) as info:
            installer.deploy_cert(DOMAIN, "", cert.key, "", cert.fullchain)
    message = str(info.value)
    assert len(message.strip().splitlines()) == 1
    assert f"use 'server_name {DOMAIN};' in the nginx server block that should serve it" in message
    assert {p.name: p.read_bytes() for p in (site.root / "sites").iterdir()} == before
