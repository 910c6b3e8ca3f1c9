"""Enhancements: redirect to HTTPS, HSTS/UIR headers, OCSP stapling, auto-HSTS.

Each one edits a vhost through :class:`.installer.ApacheInstaller` (so the
same save/checkpoint path applies) and enables the module it needs
(mod_rewrite, mod_headers). Asking for something already configured raises
:class:`PluginEnhancementAlreadyPresent`, as Certbot's plugin does.
"""

from __future__ import annotations

from typing import Any

from certkernel.sdk import (
    MisconfigurationError,
    NotSupportedError,
    PluginEnhancementAlreadyPresent,
)

from .installer import ApacheInstaller, _walk
from .syntax import quote_arg
from .vhosts import VirtualHost

SUPPORTED = ["redirect", "ensure-http-header", "staple-ocsp"]
HEADERS = {
    "strict-transport-security": ("Strict-Transport-Security", "max-age=31536000"),
    "upgrade-insecure-requests": ("Content-Security-Policy", "upgrade-insecure-requests"),
}
AUTOHSTS_STEPS = [60, 300, 900, 3600, 21600, 43200, 86400]
AUTOHSTS_LONG = 31536000


def enhance(inst: ApacheInstaller, domain: str, enhancement: str, options: Any) -> None:
    """Apply one enhancement for ``domain``."""
    if enhancement == "redirect":
        redirect(inst, domain)
    elif enhancement == "ensure-http-header":
        header = str(options or "").lower()
        if header not in HEADERS:
            raise NotSupportedError(f"Apache plugin cannot add header {options!r}")
        name, value = HEADERS[header]
        add_header(inst, domain, name, value)
    elif enhancement in ("staple-ocsp", "ocsp-stapling"):
        staple_ocsp(inst, domain)
    else:
        raise NotSupportedError(f"Apache plugin does not support the {enhancement!r} enhancement")


def _http_vhost(inst: ApacheInstaller, domain: str) -> VirtualHost:
    vhost = inst.find_http_vhost(domain)
    if vhost is None:
        raise MisconfigurationError(f"no plain-HTTP Apache vhost serves {domain}; cannot redirect")
    return vhost


def _ssl_vhost(inst: ApacheInstaller, domain: str) -> VirtualHost:
    vhost = inst.find_ssl_vhost(domain)
    if vhost is None:
        raise MisconfigurationError(
            f"no SSL Apache vhost serves {domain}; install a certificate for it first"
        )
    return vhost


def redirect(inst: ApacheInstaller, domain: str) -> None:
    """301 every plain-HTTP request of the vhost to HTTPS (mod_rewrite)."""
    vhost = _http_vhost(inst, domain)
    for node in _walk(vhost.node):
        if node.lname == "rewriterule" and len(node.args) > 1 and "https://" in node.args[1]:
            raise PluginEnhancementAlreadyPresent(
                f"{node.where()}: the vhost for {domain} already redirects to HTTPS"
            )
        if node.lname == "redirect" and any(a.startswith("https://") for a in node.args):
            raise PluginEnhancementAlreadyPresent(
                f"{node.where()}: the vhost for {domain} already redirects to HTTPS"
            )
    names = [n for n in vhost.names() if not any(c in n for c in "*?[")]
    port = "" if inst.https_port == 443 else f":{inst.https_port}"
    lines = ["RewriteEngine on"]
    for i, name in enumerate(names):
        lines.append(
            f"RewriteCond %{{SERVER_NAME}} ={name}" + (" [OR]" if i < len(names) - 1 else "")
        )
    lines.append(
        f"RewriteRule ^ https://%{{SERVER_NAME}}{port}%{{REQUEST_URI}} [END,NE,R=permanent]"
    )
    vhost.file.append_to(vhost.node, lines)
    inst.config.reload()
    inst.enable_module("rewrite")


def _header_nodes(vhost: VirtualHost, header: str) -> list[Any]:
    return [
        n
        for n in _walk(vhost.node)
        if n.lname == "header" and any(a.lower() == header.lower() for a in n.args[:3])
    ]


def add_header(inst: ApacheInstaller, domain: str, header: str, value: str) -> None:
    """``Header always set <header> "<value>"`` in the SSL vhost (mod_headers)."""
    vhost = _ssl_vhost(inst, domain)
    if _header_nodes(vhost, header):
        raise PluginEnhancementAlreadyPresent(f"the vhost for {domain} already sets {header}")
    vhost.file.append_to(vhost.node, [f"Header always set {header} {quote_arg(value)}"])
    inst.config.reload()
    inst.enable_module("headers")


def set_hsts_max_age(inst: ApacheInstaller, domain: str, seconds: int) -> None:
    """Set (or add) the HSTS header of the SSL vhost to ``max-age=<seconds>``."""
    vhost = _ssl_vhost(inst, domain)
    text = f'Header always set Strict-Transport-Security "max-age={seconds}"'
    nodes = _header_nodes(vhost, "Strict-Transport-Security")
    if nodes:
        vhost.file.replace(nodes[-1], text)
    else:
        vhost.file.append_to(vhost.node, [text])
    inst.config.reload()
    inst.enable_module("headers")


def staple_ocsp(inst: ApacheInstaller, domain: str) -> None:
    """``SSLUseStapling on`` in the vhost and a stapling cache at server level."""
    if inst.version < (2, 3, 3):
        raise NotSupportedError("OCSP stapling needs Apache 2.3.3 or later")
    vhost = _ssl_vhost(inst, domain)
    if any(n.lname == "sslusestapling" and n.args[:1] == ["on"] for n in _walk(vhost.node)):
        raise PluginEnhancementAlreadyPresent(f"the vhost for {domain} already staples OCSP")
    vhost.file.append_to(vhost.node, ["SSLUseStapling on", "SSLStaplingReturnResponderErrors off"])
    inst.config.reload()
    if not list(inst.config.find("SSLStaplingCache")):
        runtime = [a.args[0] for a in inst.config.find("DefaultRuntimeDir") if a.args]
        folder = runtime[-1] if runtime else "/var/run/apache2"
        vhost = inst._refresh(vhost)
        conf = vhost.file  # the cache is server-wide: it goes just before the vhost
        conf.insert_lines(
            vhost.node.first,
            [f"SSLStaplingCache shmcb:{folder}/ocsp-stapling-cache(128000)"],
            conf.indent_of(vhost.node.first),
        )
        inst.config.reload()
