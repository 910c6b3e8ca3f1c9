"""Putting a certificate into nginx's configuration, and the enhancements.

Edits happen on the parsed tree in memory; :meth:`NginxEditor.save`
registers every changed or new file (the real file, for one reached through
a symlink) with the kernel's checkpoints *before* writing it, writes
atomically, runs ``nginx -t`` and, when nginx refuses the
result, puts the previous bytes back at once and reports nginx's error —
the running server never sees a broken configuration.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from certkernel.sdk import (
    MisconfigurationError,
    NotSupportedError,
    PluginEnhancementAlreadyPresent,
)

from . import edits, fleet
from .control import NginxCtl
from .files import resolve_beneath, unlink_beneath, write_beneath
from .nodes import Block, ConfigFile, Directive
from .parser import NginxConfig
from .selection import ServerBlock, choose_for_install, nginx_lookup, server_blocks
from .tls_files import OPTION_DIRECTIVES

ENHANCEMENTS = ["redirect", "ensure-http-header", "staple-ocsp", "uir", "hsts"]


class Checkpoints(Protocol):
    """What the editor needs from the kernel (the SDK's ``self.kernel``)."""

    def checkpoint_add(self, files: list[str], temporary: bool = False) -> None: ...
    def checkpoint_register_new(self, files: list[str], temporary: bool = False) -> None: ...


@dataclass
class NginxEditor:
    """One server root: parsed config, pending edits, and how to save them."""

    config: NginxConfig
    ctl: NginxCtl
    kernel: Checkpoints
    https_port: int = 443
    http_port: int = 80
    options_path: str = ""
    dhparam_path: str = ""
    choose: Callable[[str, list[ServerBlock]], ServerBlock | None] | None = None
    log: Callable[[str, str], None] = field(default=lambda level, message: None)  # kernel.log
    new_files: dict[str, ConfigFile] = field(default_factory=dict)

    # -- reading ---------------------------------------------------------
    def servers(self) -> list[ServerBlock]:
        return server_blocks(self.config)

    def _https_block(self, domain: str) -> ServerBlock:
        servers = self.servers()
        found = choose_for_install(servers, domain, self.https_port)
        if found is not None:
            return found[0]
        if self.choose is not None:
            picked = self.choose(domain, servers)
            if picked is not None:
                return picked
        raise MisconfigurationError(
            f"No nginx server block has server_name {domain}; add 'server_name {domain};' "
            "to the server block that should serve it and run again"
        )

    # -- deploy ----------------------------------------------------------
    def deploy_cert(self, domain: str, key_path: str, fullchain_path: str) -> ServerBlock:
        """Make a block serve ``domain`` over TLS with this certificate.

        A block that already serves TLS keeps its own TLS policy: only the
        certificate and key change. A block certkernel creates gets the
        shipped options and DH parameters (see :meth:`_add_tls_policy`).
        """
        server = self._https_block(domain)
        created = not server.ssl_on_port(self.https_port) and not server.has_ssl
        if created:
            server = self._make_https_block(server)
        block = server.block
        edits.set_directive(block, "ssl_certificate", fullchain_path)
        edits.set_directive(block, "ssl_certificate_key", key_path)
        if created:
            self._add_tls_policy(server)
        return server

    def proxy_challenges(self, domain: str, url: str, tls: ServerBlock) -> None:
        """Fleet mode: the HTTP block nginx uses for ``domain`` and its TLS block send
        /.well-known/acme-challenge/ to ``certkernel responder`` at ``url`` (see fleet.py)."""
        blocks = [tls.block]
        found = nginx_lookup(self.servers(), domain, self.http_port)
        if found is not None and found[0].block is not tls.block:
            blocks.insert(0, found[0].block)
        for block in blocks:
            fleet.proxy_challenges(block, url, self.log)

    def _add_tls_policy(self, server: ServerBlock) -> None:
        """The shipped options and DH parameters for a block certkernel created, where they fit.

        Not when the block itself (includes followed) sets any directive the
        options file sets: a second ``ssl_prefer_server_ciphers`` in one
        block fails ``nginx -t``. Not when the ``http`` level sets them
        either, since a server-level copy would silently override the site's
        policy (a TLSv1.3-only site would accept TLSv1.2) — except when that
        policy still enables a protocol older than TLS 1.2, as the stock
        Debian/Ubuntu nginx.conf does; Certbot overrides that one too.
        """
        block = server.block
        own = _where_set(self.config.expand(block))
        http = self._http_of(server.directive)
        above = _where_set(d for d in self.config.expand(http) if d.name != "server") if http else {}
        includes = {c.args[0] for c in edits.find(block, "include") if c.args}
        in_block = [n for n in OPTION_DIRECTIVES if n in own]
        at_http = [n for n in OPTION_DIRECTIVES if n in above]
        legacy = bool(set(above["ssl_protocols"].args) & _LEGACY_PROTOCOLS) if "ssl_protocols" in above else False
        keep = in_block or (at_http if not legacy else [])
        if self.options_path and self.options_path not in includes:
            if keep:
                places = ", ".join(f"{n} at {(own.get(n) or above[n]).where()}" for n in keep)
                self.log("info", f"{server.directive.where()}: keeping the site's own TLS settings "
                         f"({places}); {self.options_path} is not included")
            else:
                edits.insert(block, edits.make(block, "include", self.options_path))
        if self.dhparam_path and "ssl_dhparam" not in own and "ssl_dhparam" not in above:
            edits.insert(block, edits.make(block, "ssl_dhparam", self.dhparam_path))

    def _http_of(self, server: Directive) -> Block | None:
        """The ``http`` block whose servers (includes expanded) contain ``server``."""
        for top in self.config.expand(self.config.root_block):
            if top.name == "http" and top.block is not None:
                if any(child is server for child in self.config.expand(top.block)):
                    return top.block
        return None

    def _make_https_block(self, plain: ServerBlock) -> ServerBlock:
        """Copy a plain block into a new TLS block right after it, on the same addresses.

        Each address the plain block listens on (IPv4 or IPv6, a specific one
        or all) gets ``listen ADDRESS:https_port ssl``, so a site bound to
        127.0.0.1 or to ``[::]`` only does not start answering elsewhere.
        Flags such as ``default_server`` are not copied: they belong to one
        block per socket and another TLS block may already hold them.
        """
        clone = edits.clone_server(plain.directive)
        assert clone.block is not None
        listens = [i for i, c in enumerate(clone.block.children) if c.name == "listen"]
        position = listens[0] if listens else 0
        clone.block.children = [c for c in clone.block.children if c.name != "listen"]
        addresses: list[str] = []
        for listen in plain.listens:
            if not listen.address.startswith("unix:") and listen.address not in addresses:
                addresses.append(listen.address)
        port = str(self.https_port)
        new = [edits.make(clone.block, "listen", f"{address}:{port}" if address else port, "ssl")
               for address in addresses or [""]]
        for offset, directive in enumerate(new):
            clone.block.children.insert(position + offset, directive)
        parent = self._parent_of(plain.directive)
        newline = "\r\n" if "\r\n" in plain.directive.gaps[0] else "\n"
        indent = plain.directive.gaps[0].rsplit("\n", 1)[-1]
        clone.gaps[0] = newline + newline + indent
        parent.children.insert(parent.children.index(plain.directive) + 1, clone)
        for server in self.servers():
            if server.directive is clone:
                return server
        raise MisconfigurationError("internal: the new HTTPS block was not found after inserting it")

    def _parent_of(self, target: Directive) -> Block:
        for parsed in list(self.config.files.values()) + list(self.new_files.values()):
            found = _find_parent(parsed.body, target)
            if found is not None:
                return found
        raise MisconfigurationError(f"{target.where()}: cannot locate this block in its file")

    # -- enhancements ----------------------------------------------------
    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        if enhancement == "redirect":
            self._redirect(domain)
        elif enhancement in ("hsts", "ensure-http-header"):
            header = options if isinstance(options, str) and options else "Strict-Transport-Security"
            if header == "Upgrade-Insecure-Requests":
                self._header(domain, "Content-Security-Policy", "upgrade-insecure-requests")
            else:
                self._header(domain, "Strict-Transport-Security", "max-age=31536000")
        elif enhancement == "uir":
            self._header(domain, "Content-Security-Policy", "upgrade-insecure-requests")
        elif enhancement in ("staple-ocsp", "ocsp-stapling"):
            self._staple(domain, options)
        else:
            raise NotSupportedError(f"nginx does not support the enhancement '{enhancement}'")

    def _tls_block(self, domain: str) -> ServerBlock:
        server = self._https_block(domain)
        if not server.has_ssl:
            raise MisconfigurationError(f"{domain}: no TLS server block yet; install a certificate first")
        return server

    def _redirect(self, domain: str) -> None:
        """``return 301 https://...`` in the block serving plain HTTP for ``domain``."""
        found = nginx_lookup(self.servers(), domain, self.http_port)
        if found is None:
            # As Certbot: nothing to redirect is not an error, but say why nothing changed.
            self.log("warning", f"No redirect added: nothing listens on port {self.http_port} for {domain}")
            return
        server = found[0]
        block = server.block
        target = "https://$host" + ("" if self.https_port == 443 else f":{self.https_port}") + "$request_uri"
        for ret in edits.find(block, "return") + [i for c in edits.find(block, "if") if c.block
                                                  for i in edits.find(c.block, "return")]:
            if ret.args[:1] == ["301"] and ret.args[1:2] and ret.args[1].startswith("https://"):
                raise PluginEnhancementAlreadyPresent(f"{domain}: already redirected at {ret.where()}")
        if server.has_ssl:
            # One block serves both: redirect only what arrived over plain HTTP.
            inner = edits.block_of(block, ("return", "301", target), parent=block)
            directive = edits.make(block, "if", "($scheme", "!=", "https)", sub=inner)
        else:
            directive = edits.make(block, "return", "301", target)
        directive.gaps[0] = directive.gaps[0] + edits.MARK + directive.gaps[0]
        edits.insert(block, directive, _after_head(block))

    def _header(self, domain: str, name: str, value: str) -> None:
        block = self._tls_block(domain).block
        for existing in edits.find(block, "add_header"):
            if existing.args and existing.args[0].lower() == name.lower():
                raise PluginEnhancementAlreadyPresent(f"{domain}: {name} already set at {existing.where()}")
        edits.insert(block, edits.make(block, "add_header", name, value, "always"))

    def _staple(self, domain: str, options: Any) -> None:
        block = self._tls_block(domain).block
        if any(c.args == ["on"] for c in edits.find(block, "ssl_stapling")):
            raise PluginEnhancementAlreadyPresent(f"{domain}: OCSP stapling already on")
        edits.set_directive(block, "ssl_stapling", "on")
        edits.set_directive(block, "ssl_stapling_verify", "on")
        chain = options if isinstance(options, str) else None
        if chain:
            edits.set_directive(block, "ssl_trusted_certificate", chain)

    # -- saving ----------------------------------------------------------
    def pending(self) -> list[ConfigFile]:
        changed = [f for f in self.config.files.values() if f.changed]
        return changed + [f for f in self.new_files.values() if f.path not in self.config.files]

    def save(self, temporary: bool = False) -> list[str]:
        """Checkpoint, write and test every changed file; revert all of them if nginx says no.

        A file reached through a symlink is written where the link points
        (inside the server root), and that real path is what the kernel
        checkpoints: the link itself is never replaced. Every path is
        resolved before anything is registered or written, so a refused
        link leaves everything as it was.
        """
        files = self.pending()
        if not files:
            return []
        root = self.config.server_root
        targets = {f.path: resolve_beneath(root, f.path) for f in files}
        for parsed in files:
            if targets[parsed.path] != parsed.path:
                self.log("debug", f"{parsed.path} is a link; writing {targets[parsed.path]}")
        existing = [targets[f.path] for f in files if os.path.lexists(targets[f.path])]
        created = [targets[f.path] for f in files if not os.path.lexists(targets[f.path])]
        if existing:
            self.kernel.checkpoint_add(existing, temporary=temporary)
        if created:
            self.kernel.checkpoint_register_new(created, temporary=temporary)
        written: list[ConfigFile] = []
        try:
            for parsed in files:
                write_beneath(root, targets[parsed.path], parsed.dump())
                written.append(parsed)
        except (OSError, MisconfigurationError) as exc:
            self._put_back(written, targets, created)
            raise MisconfigurationError(f"{exc}; the files already written were put back") from exc
        try:
            self.ctl.config_test()
        except MisconfigurationError as exc:
            self._put_back(files, targets, created)
            raise MisconfigurationError(f"{exc}; the change was reverted, nginx keeps its previous configuration") from exc
        for parsed in files:
            parsed.original = parsed.dump()
        return [targets[f.path] for f in files]

    def _put_back(self, files: list[ConfigFile], targets: dict[str, str], created: list[str]) -> None:
        root = self.config.server_root
        for parsed in files:
            target = targets[parsed.path]
            if target in created:
                unlink_beneath(root, target)
            else:
                write_beneath(root, target, parsed.original)
        self.reload_tree()

    def reload_tree(self) -> None:
        """Forget in-memory edits by reading the files again."""
        self.config = NginxConfig.load(self.config.server_root, self.config.main)
        self.new_files.clear()


_HEAD = {"listen", "server_name"}
_LEGACY_PROTOCOLS = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"}


def _where_set(directives: Iterable[Directive]) -> dict[str, Directive]:
    """The first directive of each name among ``directives``."""
    found: dict[str, Directive] = {}
    for directive in directives:
        found.setdefault(directive.name, directive)
    return found


def _after_head(block: Block) -> int:
    """Index just after the leading listen/server_name directives."""
    index = 0
    for i, child in enumerate(block.children):
        if child.name in _HEAD:
            index = i + 1
    return index


def _find_parent(block: Block, target: Directive) -> Block | None:
    for child in block.children:
        if child is target:
            return block
        if child.block is not None:
            found = _find_parent(child.block, target)
            if found is not None:
                return found
    return None


def new_file(path: str, text: str) -> ConfigFile:
    """A file we are about to create, empty on disk until saved."""
    from .parser import parse_text

    return ConfigFile(path=path, body=parse_text(text, path), original=b"")
