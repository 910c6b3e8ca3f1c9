"""Real-world layouts (issue 13) through the real plugin process and a real nginx.

The end-to-end versions live in tests/e2e_nginx/test_e2e_nginx_real_world.py;
these pin down what the CLI cannot show: exactly which path the plugin hands
the kernel's checkpoints for a symlinked site, which TLS settings a created
block gets, and the links the resolver refuses.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from certkernel.errors import MisconfigurationError
from certkernel.plugins.nginx.files import resolve_beneath, write_beneath
from certkernel.plugins.nginx.tls_files import DHPARAM_TEXT
from tests.infra.selfsigned import make_cert
from tests.infra.tls import served_certificate
from tests.nginx.checkpoints import FileCheckpoints
from tests.nginx.conftest import Site
from tests.nginx.plugin_run import nginx_plugin

PLAIN = (
    "server {{\n"
    "    listen {listen};\n"
    "    server_name example.test;\n"
    "{extra}"
    "    location / {{\n"
    '        return 200 "plain site\\n";\n'
    "    }}\n"
    "}}\n"
)


def _write_site(site: Site, listen: str, extra: str = "") -> Path:
    conf = site.root / "sites" / "example.conf"
    conf.write_text(PLAIN.format(listen=listen.format(http=site.http_port), extra=extra))
    return conf


def _deploy(site: Site, tmp_path: Path, cps: FileCheckpoints) -> int:
    cert = make_cert(tmp_path / "certs", ["example.test"], "one")
    with nginx_plugin(site, tmp_path, cps) as (installer, _auth):
        installer.deploy_cert("example.test", "", cert.key, "", cert.fullchain)
        installer.save("Deployed example.test", False)
        installer.restart()
    return cert.serial


def _refuses(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except OSError:
        return True


def test_symlinked_site_checkpoints_and_writes_the_real_file(site: Site, tmp_path: Path) -> None:
    available = site.root / "sites-available" / "example.conf"
    available.parent.mkdir()
    conf = site.root / "sites" / "example.conf"
    available.write_bytes(conf.read_bytes())
    conf.unlink()
    conf.symlink_to("../sites-available/example.conf")
    before = available.read_bytes()
    cps = FileCheckpoints()
    serial = _deploy(site, tmp_path, cps)
    # The kernel is given the file the link names (inside the server root), never the link.
    assert cps.log == [("add", str(available), before)]
    assert conf.is_symlink() and os.readlink(conf) == "../sites-available/example.conf"
    assert "ssl_certificate" in available.read_text()
    site.nginx.wait_for_certificate(site.https_port, "example.test", serial)
    cps.rollback(1)
    assert available.read_bytes() == before and conf.is_symlink()


def test_created_block_gets_options_unless_the_site_sets_them(site: Site, tmp_path: Path) -> None:
    _write_site(site, "127.0.0.1:{http}")
    _deploy(site, tmp_path, FileCheckpoints())
    text = (site.root / "sites" / "example.conf").read_text()
    assert f"include {tmp_path / 'le' / 'options-ssl-nginx.conf'};" in text
    assert f"ssl_dhparam {tmp_path / 'le' / 'ssl-dhparams.pem'};" in text


def test_snippet_included_by_the_plain_block_is_seen(site: Site, tmp_path: Path) -> None:
    snippet = site.root / "snippets" / "ssl-params.conf"
    snippet.parent.mkdir()
    (snippet.parent / "dh.pem").write_text(DHPARAM_TEXT)
    snippet.write_text(f"ssl_prefer_server_ciphers on;\nssl_dhparam {snippet.parent / 'dh.pem'};\n")
    _write_site(site, "127.0.0.1:{http}", "    include snippets/ssl-params.conf;\n")
    serial = _deploy(site, tmp_path, FileCheckpoints())
    text = (site.root / "sites" / "example.conf").read_text()
    assert "options-ssl-nginx.conf" not in text and "ssl-dhparams.pem" not in text
    assert text.count("include snippets/ssl-params.conf;") == 2  # the copy keeps the site's snippet
    assert served_certificate("127.0.0.1", site.https_port, "example.test").serial_number == serial


def test_http_level_policy_is_not_overridden_in_a_created_block(site: Site, tmp_path: Path) -> None:
    site.nginx.write("    ssl_protocols TLSv1.3;\n    include sites/*.conf;\n")
    site.nginx.reload()
    _deploy(site, tmp_path, FileCheckpoints())
    text = (site.root / "sites" / "example.conf").read_text()
    assert "options-ssl-nginx.conf" not in text
    assert "ssl-dhparams.pem" in text  # the site sets no DH parameters: ours are added


def test_stock_debian_http_level_protocols_are_overridden_in_a_created_block(site: Site, tmp_path: Path) -> None:
    # The two TLS lines of Debian's and Ubuntu's shipped nginx.conf: TLS 1.0 and 1.1 still on.
    site.nginx.write("    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\n    ssl_prefer_server_ciphers on;\n"
                     "    include sites/*.conf;\n")
    site.nginx.reload()
    _deploy(site, tmp_path, FileCheckpoints())
    text = (site.root / "sites" / "example.conf").read_text()
    assert f"include {tmp_path / 'le' / 'options-ssl-nginx.conf'};" in text
    assert site.nginx.test_config().returncode == 0


def test_created_block_listens_on_each_address_the_plain_one_did(site: Site, tmp_path: Path) -> None:
    conf = _write_site(site, "127.0.0.2:{http};\n    listen [::1]:{http}")
    site.nginx.reload()
    serial = _deploy(site, tmp_path, FileCheckpoints())
    text = conf.read_text()
    assert f"listen 127.0.0.2:{site.https_port} ssl;" in text
    assert f"listen [::1]:{site.https_port} ssl;" in text
    for host in ("127.0.0.2", "::1"):
        assert served_certificate(host, site.https_port, "example.test").serial_number == serial
    assert _refuses("127.0.0.1", site.https_port)


def test_resolver_follows_chains_and_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "real.conf").write_text("")
    (root / "b").symlink_to("a")  # a linked directory
    (root / "one.conf").symlink_to("b/real.conf")
    (root / "two.conf").symlink_to(root / "one.conf")  # absolute, then relative
    assert resolve_beneath(str(root), str(root / "two.conf")) == str(root / "a" / "real.conf")
    assert resolve_beneath(str(root), str(root / "new.conf")) == str(root / "new.conf")

    (tmp_path / "outside.conf").write_text("")
    (root / "up.conf").symlink_to("../outside.conf")
    with pytest.raises(MisconfigurationError, match="up.conf is a link to .*outside.conf, outside the server root"):
        resolve_beneath(str(root), str(root / "up.conf"))
    (root / "loop.conf").symlink_to("loop.conf")
    with pytest.raises(MisconfigurationError, match="too many levels"):
        resolve_beneath(str(root), str(root / "loop.conf"))


def test_write_refuses_a_directory_swapped_for_a_link(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sites").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = resolve_beneath(str(root), str(root / "sites" / "x.conf"))
    # Between resolving and writing, the folder becomes a link out of the root.
    (root / "sites").rmdir()
    (root / "sites").symlink_to(elsewhere)
    with pytest.raises(MisconfigurationError, match="changed or is a link"):
        write_beneath(str(root), target, b"server {}\n")
    assert list(elsewhere.iterdir()) == []
