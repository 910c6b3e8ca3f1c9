"""Issuance through the CLI with the authenticator running as an unprivileged user.

What a security-minded operator checks: the live plugin process has the
plugin user's uid and gid, no supplementary groups, NoNewPrivs set and no
capabilities, and the certificate is issued all the same (standalone on the
port-80-style socket the kernel bound, webroot writing into a folder that
user owns, rfc2136 against a real BIND).
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.bind import Bind
from tests.infra.cli_run import cert_names
from tests.infra.httpd import static_site
from tests.infra.pebble import Pebble
from tests.infra.sandbox_env import Kernel, world_dir
from tests.infra.sandbox_run import assert_sandboxed, common, run_watched


def test_standalone_unprivileged_answers_on_handed_over_socket(
        kernel: Kernel, sandbox_user: str, pebble: Pebble) -> None:
    dirs = kernel.dirs("standalone")
    code, err, status = run_watched(
        kernel, "certkernel.plugins.standalone", "certonly", "--standalone",
        "--plugin-user", sandbox_user, "--http-01-port", str(pebble.http01_port),
        "--http-01-address", "127.0.0.1", "-d", "standalone.example.org", *dirs,
        *common(pebble))
    assert code == 0, err
    assert_sandboxed(status, sandbox_user)
    assert cert_names(Path(dirs[1]), "standalone.example.org") == ["standalone.example.org"]


@pytest.fixture()
def served_webroot(kernel: Kernel, pebble: Pebble, sandbox_user: str) -> Iterator[Path]:
    """A webroot owned by the plugin's user, served on Pebble's http-01 port."""
    root = world_dir(kernel.root, "webroot-site")
    pw = pwd.getpwnam(sandbox_user)
    os.chown(root, pw.pw_uid, pw.pw_gid)
    with static_site(root, pebble.http01_port):
        yield root


def test_webroot_unprivileged_issues_and_cleans_up(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, served_webroot: Path) -> None:
    dirs = kernel.dirs("webroot")
    code, err, status = run_watched(
        kernel, "certkernel.plugins.webroot", "certonly", "--webroot", "-w", str(served_webroot),
        "-d", "webroot.example.org", "--plugin-user", sandbox_user, *dirs, *common(pebble))
    assert code == 0, err
    assert_sandboxed(status, sandbox_user)
    assert cert_names(Path(dirs[1]), "webroot.example.org") == ["webroot.example.org"]
    assert list(served_webroot.iterdir()) == []  # challenge files and .well-known removed


def test_webroot_the_user_cannot_write_is_named_with_the_user(
        kernel: Kernel, sandbox_user: str, pebble: Pebble) -> None:
    root = world_dir(kernel.root, "webroot-root-owned")  # root's, 0755
    dirs = kernel.dirs("webroot-denied")
    result = kernel.run("certonly", "--webroot", "-w", str(root), "-d", "denied.example.org",
                        "--plugin-user", sandbox_user, *dirs, *common(pebble))
    assert result.returncode == 1
    assert f"Could not write {root}/.well-known" in result.stderr
    assert sandbox_user in result.stderr
    assert not (Path(dirs[1]) / "live" / "denied.example.org").exists()


def test_rfc2136_unprivileged_issues_wildcard(
        kernel: Kernel, sandbox_user: str, sandbox_bind: Bind, pebble_factory: object) -> None:
    pebble = pebble_factory(dns_server=f"127.0.0.1:{sandbox_bind.port}")  # type: ignore[operator]
    creds = sandbox_bind.write_credentials(world_dir(kernel.root, "creds") / "rfc2136.ini")
    dirs = kernel.dirs("rfc2136")
    code, err, status = run_watched(
        kernel, "certkernel.plugins.dns", "certonly", "--dns-rfc2136",
        "--dns-rfc2136-credentials", str(creds), "--dns-rfc2136-propagation-seconds", "20",
        "-d", "*.example.com", "-d", "example.com", "--plugin-user", sandbox_user,
        *dirs, *common(pebble))
    assert code == 0, err
    assert_sandboxed(status, sandbox_user)
    assert cert_names(Path(dirs[1]), "example.com") == ["*.example.com", "example.com"]
    assert sandbox_bind.txt("_acme-challenge.example.com") == []
    conf = (Path(dirs[1]) / "renewal" / "example.com.conf").read_text()
    assert f"plugin_user = {sandbox_user}" in conf
    # renewal from the saved conf runs the plugin as the same user again
    code, err, status = run_watched(
        kernel, "certkernel.plugins.dns", "renew", "--cert-name", "example.com",
        "--force-renewal", "--no-random-sleep-on-renew", *dirs)
    assert code == 0, err
    assert_sandboxed(status, sandbox_user)
    assert (Path(dirs[1]) / "archive" / "example.com" / "cert2.pem").exists()
    assert sandbox_bind.txt("_acme-challenge.example.com") == []
