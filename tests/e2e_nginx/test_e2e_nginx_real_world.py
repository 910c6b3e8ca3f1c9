"""Real-world nginx layouts the installer once got wrong (issue 13), end to end.

Each test is one reduced case from running certkernel beside Certbot on real
configuration sets: the real CLI against Pebble and a real nginx, checked the
way an administrator would — which server answers, which certificate and
which TLS versions a handshake gets, which files changed and how.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.infra.cli_run import dns_hooks
from tests.infra.nginx import NGINX_BIN, http_get
from tests.infra.nginx_site import SITE, Site, running_site
from tests.infra.pebble import Pebble
from tests.infra.selfsigned import make_cert
from tests.infra.tls import served_certificate


def _refuses(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except OSError:
        return True


def _tls_version(port: int, sni: str, version: ssl.TLSVersion) -> str | None:
    """Handshake offering only ``version``; the negotiated version, or None if refused."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=sni) as tls:
                return tls.version()
        except ssl.SSLError:
            return None


def _compiled_prefix() -> str:
    """The ``--prefix`` this nginx binary was built with (what relative paths hang off)."""
    out = subprocess.run([NGINX_BIN, "-V"], capture_output=True, text=True, timeout=10, check=False).stderr
    found = [p.split("=", 1)[1] for p in out.split() if p.startswith("--prefix=")]
    return found[0] if found else "/usr/local/nginx"


# 1. ``pid logs/nginx.pid;`` is relative to nginx's prefix, not to the server root.
def test_relative_pid_path_is_read_under_the_nginx_prefix(tmp_path: Path, pebble: Pebble) -> None:
    prefix = tmp_path / "prefix"
    (prefix / "logs").mkdir(parents=True)
    with running_site(tmp_path, pebble, {"example.conf": SITE}, pid="logs/nginx.pid",
                      run_prefix=prefix) as site:
        master = site.nginx.pid
        # certkernel runs where the binary's compiled prefix holds this nginx's logs/
        # (as on a host whose nginx was built for that prefix): a private mount
        # namespace shows ``prefix`` at the compiled prefix, for certkernel only.
        view = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$1" "$2" && shift 2 && exec "$@"', "ck-prefix-view",
                str(prefix), _compiled_prefix()]
        done = site.cli("run", "--nginx", "-d", "example.test", wrapper=view)
        assert done.returncode == 0, done.stderr
        assert "Address already in use" not in done.stdout + done.stderr
        site.nginx.wait_for_certificate(site.https_port, "example.test", site.live_serial())
        assert site.nginx.running() and (prefix / "logs" / "nginx.pid").read_text().strip() == str(master)
        assert http_get(site.http_port, "example.test")[0] == 301


def test_relative_pid_path_is_read_under_the_prefix_given(tmp_path: Path, pebble: Pebble) -> None:
    prefix = tmp_path / "prefix"
    (prefix / "logs").mkdir(parents=True)
    with running_site(tmp_path, pebble, {"example.conf": SITE}, pid="logs/nginx.pid",
                      run_prefix=prefix) as site:
        master = site.nginx.pid
        done = site.cli("run", "--nginx", "-d", "example.test", "--nginx-prefix", f"{prefix}/")
        assert done.returncode == 0, done.stderr
        site.nginx.wait_for_certificate(site.https_port, "example.test", site.live_serial())
        assert site.nginx.running() and (prefix / "logs" / "nginx.pid").read_text().strip() == str(master)
        # Saved for renewal, where the same prefix is needed again.
        renewal = (site.config_dir / "renewal" / "example.test.conf").read_text().splitlines()
        assert f"nginx_prefix = {prefix}" in renewal


# 2. A stopped nginx whose error log is stderr (no error_log directive) is started, not waited on.
def test_starts_a_stopped_nginx_that_logs_to_stderr(tmp_path: Path, pebble: Pebble) -> None:
    with running_site(tmp_path, pebble, {"example.conf": SITE}, start=False, error_log=False) as site:
        assert not (site.root / "nginx.pid").exists()
        done = site.cli("run", "--nginx", "-d", "example.test", timeout=120)
        assert done.returncode == 0, done.stderr
        serial = site.live_serial()
        site.nginx.wait_for_certificate(site.https_port, "example.test", serial)
        # The server that runs is the configuration on disk: TLS and the redirect are both live.
        assert "ssl_certificate" in (site.root / "sites" / "example.conf").read_text()
        assert http_get(site.http_port, "example.test")[0] == 301


TLS_SITE = (
    "server {{\n"
    "    listen 127.0.0.1:{https_port} ssl;\n"
    "    server_name example.test;\n"
    "    ssl_certificate CHAIN;\n"
    "    ssl_certificate_key KEY;\n"
    "    INCLUDE\n"
    "    location / {{\n"
    '        return 200 "tls site\\n";\n'
    "    }}\n"
    "}}\n"
)


def _tls_site(tmp_path: Path, include: str = "") -> str:
    snake = make_cert(tmp_path / "snakeoil", ["example.test"], "snakeoil")
    return TLS_SITE.replace("CHAIN", snake.fullchain).replace("KEY", snake.key).replace("INCLUDE", include)


# 3. TLS settings from an included snippet are seen: no duplicate directive, no revert.
def test_tls_settings_from_an_included_snippet_are_kept(tmp_path: Path, pebble: Pebble) -> None:
    snippet = tmp_path / "nginx" / "snippets" / "ssl-params.conf"
    snippet.parent.mkdir(parents=True)
    snippet.write_text("ssl_protocols TLSv1.2 TLSv1.3;\nssl_prefer_server_ciphers on;\n"
                       "ssl_session_cache shared:SITE:1m;\n")
    sites = {"example.conf": SITE, "example-tls.conf": _tls_site(tmp_path, "include snippets/ssl-params.conf;")}
    with running_site(tmp_path, pebble, sites) as site:
        before = snippet.read_bytes()
        done = site.cli("run", "--nginx", "-d", "example.test")
        assert done.returncode == 0, done.stderr
        site.nginx.wait_for_certificate(site.https_port, "example.test", site.live_serial())
        tls_conf = (site.root / "sites" / "example-tls.conf").read_text()
        assert "options-ssl-nginx.conf" not in tls_conf
        assert "include snippets/ssl-params.conf;" in tls_conf
        assert snippet.read_bytes() == before
        assert site.nginx.test_config().returncode == 0


# 4. A symlinked site file is written through the link; rollback restores the target.
@contextmanager
def _linked_site(tmp_path: Path, pebble: Pebble, target: Path) -> Iterator[tuple[Site, Path]]:
    """The site file at ``target``; ``sites/example.conf`` links to it (relative inside the root)."""
    with running_site(tmp_path, pebble, {}, start=False) as site:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(SITE.format(port=site.http_port))
        link = site.root / "sites" / "example.conf"
        link.symlink_to(Path("..") / target.relative_to(site.root) if target.is_relative_to(site.root)
                        else target)
        with site.nginx:
            yield site, link


def test_symlinked_site_file_is_written_through_the_link(tmp_path: Path, pebble: Pebble) -> None:
    target = tmp_path / "nginx" / "sites-available" / "example.conf"
    with _linked_site(tmp_path, pebble, target) as (site, link):
        original, pointer = target.read_bytes(), str(link.readlink())
        done = site.cli("run", "--nginx", "-d", "example.test")
        assert done.returncode == 0, done.stderr
        site.nginx.wait_for_certificate(site.https_port, "example.test", site.live_serial())
        assert link.is_symlink() and str(link.readlink()) == pointer == "../sites-available/example.conf"
        assert "ssl_certificate" in target.read_text()

        back = site.cli("rollback", "--checkpoints", "1")
        assert back.returncode == 0, back.stderr
        assert link.is_symlink() and str(link.readlink()) == pointer
        assert target.read_bytes() == original
        assert _refuses("127.0.0.1", site.https_port)


def test_symlink_leaving_the_server_root_is_refused_untouched(tmp_path: Path, pebble: Pebble) -> None:
    target = tmp_path / "elsewhere" / "example.conf"
    with _linked_site(tmp_path, pebble, target) as (site, link):
        original = target.read_bytes()
        done = site.cli("run", "--nginx", "-d", "example.test")
        assert done.returncode == 1
        error = done.stderr.strip().splitlines()[-1]
        assert f"{link} is a link to {target}, outside the server root {site.root}" in error, done.stderr
        assert link.is_symlink() and link.readlink() == target
        assert target.read_bytes() == original
        assert http_get(site.http_port, "example.test")[::2] == (200, b"plain site\n")


V6_SITE = (
    "server {{\n"
    "    listen [::1]:{port};\n"
    "    server_name v6.test;\n"
    "    location / {{\n"
    '        return 200 "v6 site\\n";\n'
    "    }}\n"
    "}}\n"
)


# 5. The new TLS block listens where the plain one did: same address, same family.
def test_new_tls_block_keeps_listen_address_and_family(tmp_path: Path, pebble: Pebble) -> None:
    with running_site(tmp_path, pebble, {"example.conf": SITE, "v6.conf": V6_SITE}) as site:
        done = site.cli("run", "--nginx", "-d", "example.test")
        assert done.returncode == 0, done.stderr
        example = site.live_serial()
        site.nginx.wait_for_certificate(site.https_port, "example.test", example)
        assert _refuses("127.0.0.2", site.https_port)  # 127.0.0.1 only, as the site said

        v6 = site.cli("run", *dns_hooks(tmp_path, pebble), "-i", "nginx", "-d", "v6.test")
        assert v6.returncode == 0, v6.stderr
        v6_serial = site.live_serial("v6.test")
        assert served_certificate("::1", site.https_port, "v6.test").serial_number == v6_serial
        # No IPv4 socket for the IPv6-only site: 127.0.0.1 still answers with example.test's block.
        assert served_certificate("127.0.0.1", site.https_port, "v6.test").serial_number == example
        assert _refuses("127.0.0.2", site.https_port)


# 6. A block already serving TLS keeps its own policy (TLS 1.3 only, set at http level).
def test_existing_tls_policy_is_left_alone(tmp_path: Path, pebble: Pebble) -> None:
    sites = {"example.conf": SITE, "example-tls.conf": _tls_site(tmp_path)}
    with running_site(tmp_path, pebble, sites, http_extra="    ssl_protocols TLSv1.3;\n") as site:
        assert _tls_version(site.https_port, "example.test", ssl.TLSVersion.TLSv1_2) is None
        done = site.cli("run", "--nginx", "-d", "example.test")
        assert done.returncode == 0, done.stderr
        site.nginx.wait_for_certificate(site.https_port, "example.test", site.live_serial())
        assert _tls_version(site.https_port, "example.test", ssl.TLSVersion.TLSv1_2) is None
        assert _tls_version(site.https_port, "example.test", ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        tls_conf = (site.root / "sites" / "example-tls.conf").read_text()
        assert "options-ssl-nginx.conf" not in tls_conf and "ssl_dhparam" not in tls_conf


# 7. --redirect with nothing on port 80 for the name says so (not "already enabled").
def test_redirect_without_a_port_80_block_says_nothing_listens(tmp_path: Path, pebble: Pebble) -> None:
    with running_site(tmp_path, pebble, {"example-tls.conf": _tls_site(tmp_path)}) as site:
        done = site.cli("run", "--nginx", "-d", "example.test", "--redirect")
        assert done.returncode == 0, done.stderr
        site.nginx.wait_for_certificate(site.https_port, "example.test", site.live_serial())
        assert f"No redirect added: nothing listens on port {site.http_port} for example.test" \
            in done.stderr, done.stderr
        assert "already enabled" not in done.stdout + done.stderr
        assert _refuses("127.0.0.1", site.http_port)

