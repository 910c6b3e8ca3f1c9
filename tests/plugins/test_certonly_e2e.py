"""``certkernel certonly`` with each built-in authenticator against a real Pebble.

Run as a user runs it: the installed ``certkernel`` command in a subprocess,
Pebble validating http-01 over real TCP on its http-01 port (challtestsrv
resolves every name to 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.httpd import static_site

from .certonly_run import assert_issued, certonly, explain


def test_standalone(pebble, tmp_path):
    result = certonly(pebble, tmp_path, "--standalone", "-d", "sa.example", "-d", "www.sa.example")
    assert result.returncode == 0, explain(result)
    assert_issued(tmp_path, "sa.example", ["sa.example", "www.sa.example"])
    conf = (tmp_path / "config" / "renewal" / "sa.example.conf").read_text()
    assert "authenticator = standalone" in conf


def test_standalone_port_taken(pebble, tmp_path):
    import socket

    taker = socket.socket()
    taker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taker.bind(("127.0.0.1", pebble.http01_port))
    taker.listen(1)
    try:
        result = certonly(pebble, tmp_path, "--standalone", "-d", "taken.example")
    finally:
        taker.close()
    assert result.returncode != 0
    # The kernel binds the port and hands the socket over, so it words the error.
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("Could not bind"), explain(result)
    assert f"{pebble.http01_port} because it is already in use" in message
    assert not (tmp_path / "config" / "live" / "taken.example").exists()


@pytest.fixture
def webroot_server(pebble, tmp_path) -> Iterator[Path]:
    """A real web server serving a webroot on Pebble's http-01 port."""
    with static_site(tmp_path / "www", pebble.http01_port) as root:
        yield root


def test_webroot(pebble, tmp_path, webroot_server):
    other = tmp_path / "unused"
    other.mkdir()
    result = certonly(pebble, tmp_path, "--webroot", "-w", str(other), "-d", "nothing.example",
                      "--webroot-map", json.dumps({"nothing.example": str(webroot_server)}),
                      "-w", str(webroot_server), "-d", "wr.example")
    assert result.returncode == 0, explain(result)
    assert_issued(tmp_path, "nothing.example", ["nothing.example", "wr.example"])
    assert os.listdir(webroot_server) == [], "cleanup removed what it created"
    assert os.listdir(other) == []
    conf = (tmp_path / "config" / "renewal" / "nothing.example.conf").read_text()
    assert "authenticator = webroot" in conf
    # Certbot's layout: the resolved map is a subsection, so renewal needs no -w/-d order.
    section = conf.split("[[webroot_map]]\n", 1)[1].splitlines()
    assert sorted(section[:2]) == [f"nothing.example = {webroot_server}",
                                   f"wr.example = {webroot_server}"]


def test_webroot_relative_path_is_the_users_directory(pebble, tmp_path, webroot_server):
    result = certonly(pebble, tmp_path, "--webroot", "-w", "www", "-d", "rel.example",
                      cwd=tmp_path)
    assert result.returncode == 0, explain(result)
    assert_issued(tmp_path, "rel.example", ["rel.example"])
    conf = (tmp_path / "config" / "renewal" / "rel.example.conf").read_text()
    assert f"webroot_path = {webroot_server}," in conf, "renewal keeps the absolute path"


def test_webroot_missing_path_non_interactive(pebble, tmp_path):
    result = certonly(pebble, tmp_path, "--webroot", "-d", "nowr.example")
    assert result.returncode != 0
    assert "--webroot-path" in result.stderr + result.stdout, explain(result)


def _hook(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\nset -e\n" + body)
    path.chmod(0o755)
    return str(path)


def test_manual_http01_with_hooks_serving_through_a_real_server(pebble, tmp_path, webroot_server):
    log = tmp_path / "hooks.log"
    auth = _hook(tmp_path / "auth.sh", (
        f'd={shlex.quote(str(webroot_server))}/.well-known/acme-challenge\n'
        'mkdir -p "$d"\n'
        'printf %s "$CERTBOT_VALIDATION" > "$d/$CERTBOT_TOKEN"\n'
        f'echo "auth $CERTBOT_DOMAIN $CERTBOT_REMAINING_CHALLENGES $CERTBOT_ALL_DOMAINS" >> {log}\n'
        'echo "made-$CERTBOT_TOKEN"\n'
    ))
    cleanup = _hook(tmp_path / "cleanup.sh", (
        f'rm -f {shlex.quote(str(webroot_server))}/.well-known/acme-challenge/"$CERTBOT_TOKEN"\n'
        f'echo "cleanup $CERTBOT_DOMAIN $CERTBOT_AUTH_OUTPUT $CERTBOT_TOKEN" >> {log}\n'
    ))
    result = certonly(pebble, tmp_path, "--manual", "--manual-auth-hook", auth,
                      "--manual-cleanup-hook", cleanup, "--preferred-challenges", "http-01",
                      "-d", "m1.example", "-d", "m2.example")
    assert result.returncode == 0, explain(result)
    assert_issued(tmp_path, "m1.example", ["m1.example", "m2.example"])
    lines = log.read_text().splitlines()
    auths = sorted(line for line in lines if line.startswith("auth "))
    assert [a.split()[1] for a in auths] == ["m1.example", "m2.example"]
    assert sorted(a.split()[2] for a in auths) == ["0", "1"]
    assert {a.split()[3] for a in auths} in ({"m1.example,m2.example"}, {"m2.example,m1.example"})
    cleanups = [line.split() for line in lines if line.startswith("cleanup ")]
    assert len(cleanups) == 2
    for _, _domain, output, token in cleanups:
        assert output == f"made-{token}", "the auth hook's stdout reaches the cleanup hook"


def test_manual_dns01_wildcard_with_hooks(pebble, tmp_path):
    """dns-01 via the hooks: they publish TXT records in Pebble's DNS (challtestsrv)."""
    py = shlex.quote(sys.executable)
    mgmt = pebble.challtestsrv_url
    post = (
        f"{py} -c 'import json,os,sys,urllib.request;"
        "body=json.dumps({\"host\": \"_acme-challenge.\"+os.environ[\"CERTBOT_DOMAIN\"]+\".\","
        "\"value\": os.environ[\"CERTBOT_VALIDATION\"]}).encode();"
        "urllib.request.urlopen(urllib.request.Request(sys.argv[1], body), timeout=10)'"
    )
    auth = _hook(tmp_path / "auth.sh", f"{post} {mgmt}/set-txt\n")
    cleanup = _hook(tmp_path / "cleanup.sh", f"{post} {mgmt}/clear-txt\n")
    result = certonly(pebble, tmp_path, "--manual", "--manual-auth-hook", auth,
                      "--manual-cleanup-hook", cleanup, "--preferred-challenges", "dns-01",
                      "-d", "*.dns.example")
    assert result.returncode == 0, explain(result)
    assert_issued(tmp_path, "dns.example", ["*.dns.example"])


def test_manual_non_interactive_without_hook_fails_before_ordering(pebble, tmp_path):
    result = certonly(pebble, tmp_path, "--manual", "-d", "nohook.example")
    assert result.returncode != 0
    assert "--manual-auth-hook" in result.stderr + result.stdout, explain(result)
