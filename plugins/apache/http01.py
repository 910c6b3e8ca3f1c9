"""http-01 through the running Apache: a temporary include in every matching vhost.

Like Certbot: the key authorizations are files in a challenge folder, and
one small config file maps ``/.well-known/acme-challenge/<token>`` onto
that folder (mod_rewrite with ``[END]`` when loaded, so the vhost's own
redirects cannot catch the request first; mod_alias otherwise). An
``Include`` of it goes first into each vhost that serves the name on the
http-01 port, or, when none names it, into every vhost on that port. All of
it is registered as a temporary checkpoint and reverted after validation.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from certkernel.sdk import Challenge, MisconfigurationError

from .installer import ApacheInstaller
from .syntax import quote_arg
from .vhosts import VirtualHost

CONF_NAME = "le_http_01_challenge.conf"
SELF_CHECK_TIMEOUT = 5.0


@dataclass
class Http01Setup:
    """What :func:`perform` put in place (for cleanup and tests)."""

    conf: Path
    token_dir: Path
    vhosts: list[str]


def challenge_conf(token_dir: Path) -> str:
    """The include that serves the token folder."""
    d = quote_arg(str(token_dir))
    return (
        "# Written by certkernel for an http-01 challenge; removed after validation.\n"
        "<IfModule mod_rewrite.c>\n"
        "    RewriteEngine on\n"
        f"    RewriteRule ^/\\.well-known/acme-challenge/([A-Za-z0-9_-]+)$ {d}/$1 [END]\n"
        "</IfModule>\n"
        "<IfModule !mod_rewrite.c>\n"
        f"    Alias /.well-known/acme-challenge {d}\n"
        "</IfModule>\n"
        f"<Directory {d}>\n"
        "    Require all granted\n"
        "    Options None\n"
        "    AllowOverride None\n"
        "</Directory>\n"
    )


def target_vhosts(inst: ApacheInstaller, names: list[str], port: int) -> list[VirtualHost]:
    """Vhosts on ``port`` that serve any of ``names``; all of them if none does."""
    on_port = [v for v in inst.vhosts() if v.enabled and not v.in_macro and v.listens_on(port)]
    if not on_port:
        raise MisconfigurationError(
            f"no enabled Apache vhost listens on port {port}; the CA cannot reach Apache "
            "for http-01 there (use another authenticator or add a port-80 vhost)"
        )
    named = [v for v in on_port if any(v.score(n) > 0 for n in names)]
    return named or on_port


def perform(
    inst: ApacheInstaller, challenges: list[Challenge], port: int, token_dir: Path
) -> Http01Setup:
    """Write tokens and the include, add it to the vhosts, save (temporary) + test."""
    token_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(token_dir, 0o755)
    for chall in challenges:
        path = token_dir / chall.token
        path.write_text(chall.validation)
        os.chmod(path, 0o644)
    conf_path = inst.options.challenge_location / CONF_NAME
    if conf_path in inst.config.files or conf_path.exists():
        raise MisconfigurationError(
            f"{conf_path} exists: a previous challenge was not cleaned up; "
            "run 'certkernel rollback' or remove it"
        )
    inst.config.create_file(conf_path, challenge_conf(token_dir))
    vhosts = target_vhosts(inst, [c.identifier for c in challenges], port)
    described = [v.describe() for v in vhosts]
    # edit bottom-up within each file so earlier line numbers stay valid
    for v in sorted(vhosts, key=lambda v: (str(v.path), -v.node.first)):
        v.file.append_to(v.node, [f"Include {quote_arg(str(conf_path))}"], at_start=True)
    inst.config.reload()
    if not inst.config.module_loaded("rewrite") and not inst.config.module_loaded("alias"):
        inst.enable_module("alias")
    inst.save(temporary=True)
    return Http01Setup(conf_path, token_dir, described)


def remove_tokens(challenges: list[Challenge], token_dir: Path) -> None:
    """Delete the token files (the include is reverted by the kernel)."""
    for chall in challenges:
        (token_dir / chall.token).unlink(missing_ok=True)


def wait_served(
    challenges: list[Challenge], port: int, timeout: float = SELF_CHECK_TIMEOUT
) -> bool:
    """Bounded check that loopback Apache serves the first token after a reload."""
    if not challenges:
        return True
    chall = challenges[0]
    deadline = time.monotonic() + timeout
    request = (f"GET {chall.uri_path} HTTP/1.0\r\nHost: {chall.identifier}\r\n\r\n").encode()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                data = b""
                while len(data) < 65536:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            if data.startswith(b"HTTP/1.1 200") and data.endswith(chall.validation.encode()):
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False
