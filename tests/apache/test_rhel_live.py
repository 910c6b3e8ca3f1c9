"""A RHEL-style tree (conf/httpd.conf, conf.modules.d, conf.d) on a real apache2.

No mods-enabled links here: mod_ssl is enabled with a LoadModule line next
to the existing ones, and the new SSL vhost lands in conf.d, which the
main file already includes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel.plugins.apache.installer import ApacheInstaller
from certkernel.plugins.apache.options import resolve
from tests.apache.helpers import FileCheckpoints, make_cert, snapshot
from tests.infra.apache import (
    MODULE_DIR,
    ApacheServer,
    base_directives,
    free_port,
    http_get,
    readable_tempdir,
    served_cert_der,
    var_dir,
)


@pytest.fixture
def rhel_tree() -> Iterator[tuple[Path, ApacheServer, int, int]]:
    base = readable_tempdir()
    root = base / "httpd"
    var = var_dir(root)
    for sub in ("conf", "conf.d", "conf.modules.d"):
        (root / sub).mkdir(parents=True)
    for sub in ("run", "logs", "htdocs"):
        (var / sub).mkdir(parents=True)
    (var / "htdocs" / "index.html").write_text("rhel site\n")
    http_port, https_port = free_port(), free_port()
    (root / "conf" / "httpd.conf").write_text(
        base_directives(root)
        + f"Listen 127.0.0.1:{http_port}\n"
        + "Include conf.modules.d/*.conf\n"
        + f'<Directory "{var}/htdocs">\n    Require all granted\n</Directory>\n'
        + "IncludeOptional conf.d/*.conf\n"
    )
    (root / "conf.modules.d" / "00-base.conf").write_text(
        "".join(
            f"LoadModule {m}_module {MODULE_DIR}/mod_{m}.so\n"
            for m in ("mpm_event", "authz_core", "mime", "dir", "alias", "socache_shmcb")
        )
    )
    (root / "conf.d" / "site.conf").write_text(
        f"<VirtualHost 127.0.0.1:{http_port}>\n"
        "    ServerName rhel.test\n"
        f"    DocumentRoot {var}/htdocs\n"
        "</VirtualHost>\n"
    )
    server = ApacheServer(root, root / "conf" / "httpd.conf")
    server.start([http_port])
    try:
        yield root, server, http_port, https_port
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_rhel_layout_deploy(rhel_tree: tuple[Path, ApacheServer, int, int]) -> None:
    root, server, http_port, https_port = rhel_tree
    before = snapshot(root)
    checkpoints = FileCheckpoints()
    opts = resolve({"server-root": str(root)})
    assert (opts.family, opts.ctl, opts.bin) == ("rhel", "apachectl", "httpd")
    assert opts.vhost_root == root / "conf.d"
    # this machine is Debian: the user names Debian's commands, as with Certbot
    opts = resolve({"server-root": str(root), "ctl": "apache2ctl", "bin": "apache2"})
    inst = ApacheInstaller(opts, checkpoints, https_port, root.parent / "le")
    cert = make_cert(root.parent / "certs", ["rhel.test"])
    inst.deploy_cert(
        "rhel.test", cert["cert_path"], cert["key_path"], cert["chain_path"], cert["fullchain_path"]
    )
    inst.save()
    server.graceful()
    server.wait_port(https_port)
    assert served_cert_der(https_port, "rhel.test").hex() == cert["der"]
    assert http_get(https_port, "rhel.test", tls=True)[2] == b"rhel site\n"
    modules = (root / "conf.modules.d" / "00-base.conf").read_text()
    assert modules.endswith(f"LoadModule ssl_module {MODULE_DIR}/mod_ssl.so\n")
    assert (root / "conf.d" / "site-le-ssl.conf").is_file()
    checkpoints.rollback()
    assert snapshot(root) == before
