"""Putting a certificate into Apache: find or make the SSL vhost, point it at the files.

Like Certbot: an SSL vhost already serving the name gets its certificate
directives replaced; otherwise the port-80 vhost for the name is copied into
``<file><le-vhost-ext>`` (``-le-ssl.conf``) on the HTTPS port, wrapped in
``<IfModule mod_ssl.c>``, with our TLS options included. mod_ssl is enabled
(Debian: ``mods-enabled`` links when ``handle-modules``; elsewhere a
``LoadModule`` line), the new site is enabled (Debian ``sites-enabled`` link
when ``handle-sites``) and a ``Listen`` for the HTTPS port is added. Apache
before 2.4.8 cannot read a chain from SSLCertificateFile, so it gets
``SSLCertificateChainFile`` instead of the fullchain.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from certkernel.sdk import MisconfigurationError

from .changes import Checkpointer, PendingLinks, save_all
from .config import ApacheConfig
from .ctl import ApacheCtl
from .options import ApacheOptions, read_envvars
from .syntax import ConfFile, Node, quote_arg, split_args
from .tlsconf import install_options_file
from .vhosts import Addr, VirtualHost, collect, select

FALLBACK_MODULE_DIR = {"debian": "/usr/lib/apache2/modules", "rhel": "modules"}
MODULE_DEPENDS = {"ssl": ["socache_shmcb"], "proxy_http": ["proxy"]}


class ApacheInstaller:
    """The configuration of one server root and the changes made to it."""

    def __init__(
        self,
        options: ApacheOptions,
        checkpointer: Checkpointer,
        https_port: int = 443,
        config_dir: Path = Path("/etc/letsencrypt"),
        version: tuple[int, ...] | None = None,
    ) -> None:
        self.options = options
        self.checkpointer = checkpointer
        self.https_port = https_port
        self.config_dir = config_dir
        self.ctl = ApacheCtl(options)
        self._version = version
        env = dict(os.environ)
        env.update(read_envvars(options.server_root / "envvars"))
        self.config = ApacheConfig(options.server_root, options.main_file, env=env)
        self.links = PendingLinks()
        self.created_ssl: dict[Path, Path] = {}  # http vhost file -> its ssl copy

    # -- reading -----------------------------------------------------------

    @property
    def version(self) -> tuple[int, ...]:
        """httpd's version (asked once)."""
        if self._version is None:
            self._version = self.ctl.version()
        return self._version

    def vhosts(self) -> list[VirtualHost]:
        """Active vhosts plus those of vhost-root files httpd does not read."""
        extra: list[ConfFile] = []
        root = self.options.vhost_root
        if root.is_dir():
            included = {os.path.realpath(p) for p in self.config.included_files()}
            for name in sorted(os.listdir(root)):
                path = root / name
                if (
                    path.is_file()
                    and name.endswith(".conf")
                    and os.path.realpath(path) not in included
                ):
                    extra.append(self.config.file(path))
        return collect(self.config, extra)

    def get_all_names(self) -> list[str]:
        """Names from ServerName/ServerAlias of every vhost."""
        from .vhosts import all_names

        return all_names(self.vhosts())

    def find_ssl_vhost(self, domain: str) -> VirtualHost | None:
        """An SSL vhost on the HTTPS port that serves ``domain`` by name."""
        ssl = [v for v in self.vhosts() if v.ssl and v.listens_on(self.https_port)]
        found = select(ssl, domain, self.https_port)
        if found is not None and (found.score(domain) > 0 or len(ssl) == 1):
            return found
        return None

    def find_http_vhost(self, domain: str) -> VirtualHost | None:
        """The plain-HTTP vhost that serves ``domain`` (to copy into an SSL one)."""
        plain = [v for v in self.vhosts() if not v.ssl]
        return select(plain, domain, "*") if plain else None

    # -- deploying ---------------------------------------------------------

    def choose_vhost(self, domain: str, fallback: VirtualHost | None = None) -> VirtualHost:
        """The SSL vhost for ``domain``, creating it from the HTTP one if needed."""
        found = self.find_ssl_vhost(domain)
        if found is not None:
            return found
        http = fallback or self.find_http_vhost(domain)
        if http is None:
            raise MisconfigurationError(
                f"no Apache virtual host has ServerName or ServerAlias {domain}; "
                f"add 'ServerName {domain}' to the vhost that should serve it"
            )
        return self.make_ssl_vhost(http)

    def make_ssl_vhost(self, http: VirtualHost) -> VirtualHost:
        """Copy a port-80 vhost into ``<name><le-vhost-ext>`` on the HTTPS port."""
        real = Path(os.path.realpath(http.path))
        stem = real.name[:-5] if real.name.endswith(".conf") else real.name
        target = real.parent / (stem + self.options.le_vhost_ext)
        if target in self.config.files or target.exists():
            conf = self.config.file(target)
        else:
            conf = self.config.create_file(target, self._ssl_text(http))
        self.created_ssl[http.path] = target
        self._strip_https_redirects(conf)
        self._ensure_module("ssl")
        self._ensure_included(target)
        self._ensure_listen(http)
        vhost = _vhost_in(conf, self.config)
        self._set(vhost, "Include", [str(install_options_file(self.config_dir))], replace=False)
        return _vhost_in(conf, self.config)

    def _ssl_text(self, http: VirtualHost) -> str:
        lines = http.file.lines
        node = http.node
        nl = http.file.newline()
        addrs = " ".join(str(a.with_port(self.https_port)) for a in http.addrs)
        body = [line.rstrip("\r\n") + nl for line in lines[node.head_last + 1 : node.last]]
        indent = http.file.indent_of(node.first)
        out = [f"<IfModule mod_ssl.c>{nl}", f"{indent}<VirtualHost {addrs}>{nl}"]
        out += body
        out += [f"{indent}</VirtualHost>{nl}", f"</IfModule>{nl}"]
        return "".join(out)

    def _strip_https_redirects(self, conf: ConfFile) -> None:
        """Drop rewrite rules that send to https (they would loop in the SSL copy)."""
        while True:
            rule = next(
                (
                    n
                    for n in _walk(conf.root)
                    if n.lname == "rewriterule"
                    and len(n.args) > 1
                    and n.args[1].startswith("https://")
                ),
                None,
            )
            if rule is None:
                return
            parent = rule.parent
            assert parent is not None
            siblings = parent.children
            idx = siblings.index(rule)
            conds = []
            while idx > 0 and siblings[idx - 1].lname == "rewritecond":
                idx -= 1
                conds.append(siblings[idx])
            conf.remove(rule)
            for cond in conds:  # later lines first, so indexes stay valid
                conf.remove(cond)

    def deploy_cert(
        self,
        domain: str,
        cert_path: str,
        key_path: str,
        chain_path: str,
        fullchain_path: str,
        vhost: VirtualHost | None = None,
    ) -> VirtualHost:
        """Point the SSL vhost for ``domain`` at the lineage's files."""
        vhost = vhost or self.choose_vhost(domain)
        if self.version < (2, 4, 8):
            self._set(vhost, "SSLCertificateFile", [cert_path])
            vhost = self._refresh(vhost)
            self._set(vhost, "SSLCertificateChainFile", [chain_path])
        else:
            self._set(vhost, "SSLCertificateFile", [fullchain_path])
            vhost = self._refresh(vhost)
            for node in [n for n in _walk(vhost.node) if n.lname == "sslcertificatechainfile"]:
                vhost.file.remove(node)
                break
        vhost = self._refresh(vhost)
        self._set(vhost, "SSLCertificateKeyFile", [key_path])
        self._ensure_module("ssl")
        return self._refresh(vhost)

    def _refresh(self, vhost: VirtualHost) -> VirtualHost:
        """The same vhost after an edit reparsed its file."""
        self.config.reload()
        return _vhost_in(vhost.file, self.config, vhost.node.first)

    def _set(self, vhost: VirtualHost, name: str, args: list[str], replace: bool = True) -> None:
        """Replace the vhost's directive ``name`` or append it."""
        text = name + " " + " ".join(quote_arg(a) for a in args)
        existing = [n for n in _walk(vhost.node) if n.lname == name.lower()]
        if replace and existing:
            vhost.file.replace(existing[-1], text)
            for extra in reversed(existing[:-1]):
                vhost.file.remove(extra)
            return
        if not replace and any(n.args == args for n in existing):
            return
        vhost.file.append_to(vhost.node, [text])

    # -- modules, sites, listen ----------------------------------------------

    def enable_module(self, module: str) -> None:
        """Public form of :meth:`_ensure_module` for enhancements."""
        self._ensure_module(module)

    def _ensure_module(self, module: str) -> None:
        if self.config.module_loaded(module) or self._link_pending(module):
            return
        for dep in MODULE_DEPENDS.get(module, []):
            self._ensure_module(dep)
        avail = self.options.server_root / "mods-available"
        if self.options.family == "debian" and (avail / f"{module}.load").is_file():
            if not self.options.handle_modules:
                raise MisconfigurationError(
                    f"Apache module {module} is not enabled; run '{self.options.enmod} {module}' "
                    "or pass --apache-handle-modules"
                )
            for dep in _load_depends(avail / f"{module}.load"):
                self._ensure_module(dep)
            enabled = self.options.server_root / "mods-enabled"
            for ext in ("load", "conf"):
                if (avail / f"{module}.{ext}").is_file():
                    self.links.add(enabled / f"{module}.{ext}", f"../mods-available/{module}.{ext}")
            return
        self._add_load_module(module)

    def _link_pending(self, module: str) -> bool:
        return any(p.name == f"{module}.load" for p in self.links.links)

    def _add_load_module(self, module: str) -> None:
        loads = [a for a in self.config.find("LoadModule") if a.depth == 0 and len(a.args) > 1]
        if loads:
            last = loads[-1]
            directory = os.path.dirname(last.node.args[1])
            text = f"LoadModule {module}_module {directory}/mod_{module}.so"
            last.node.file.insert_lines(
                last.node.last + 1, [text], last.node.file.indent_of(last.node.first)
            )
        else:
            directory = FALLBACK_MODULE_DIR[self.options.family]
            main = self.config.file(self.options.main_file)
            main.append_to(
                main.root, [f"LoadModule {module}_module {directory}/mod_{module}.so"], True
            )
        self.config.reload()

    def _ensure_included(self, path: Path) -> None:
        """Make httpd read a new file: a sites-enabled link or an Include line."""
        real = os.path.realpath(path)
        patterns = [
            str(self.config.resolve(a.args[0]))
            for a in [*self.config.find("Include"), *self.config.find("IncludeOptional")]
            if a.args
        ]
        enabled = self.options.server_root / "sites-enabled"
        if (
            self.options.family == "debian"
            and self.options.handle_sites
            and os.path.realpath(path.parent) == os.path.realpath(self.options.vhost_root)
            and enabled.is_dir()
        ):
            link = enabled / path.name
            if any(fnmatch.fnmatchcase(str(link), p) for p in patterns):
                self.links.add(link, f"../{path.parent.name}/{path.name}")
                return
        if any(fnmatch.fnmatchcase(real, p) or fnmatch.fnmatchcase(str(path), p) for p in patterns):
            return
        main = self.config.file(self.options.main_file)
        main.append_to(main.root, [f"Include {quote_arg(str(path))}"])
        self.config.reload()

    def _ensure_listen(self, http: VirtualHost) -> None:
        """A Listen for the HTTPS port on the addresses the HTTP vhost uses."""
        listens = list(self.config.find("Listen"))
        ports = {_listen_port(a.args[0]) for a in listens if a.args}
        if str(self.https_port) in ports:
            return
        http_ports = {a.port for a in http.addrs if a.port != "*"}
        sources = [
            a for a in listens if a.args and _listen_port(a.args[0]) in http_ports
        ] or listens
        if not sources:
            raise MisconfigurationError("the Apache configuration has no Listen directive")
        seen: set[str] = set()
        new: list[str] = []
        for item in sources:
            host = _listen_host(item.args[0])
            text = f"Listen {host + ':' if host else ''}{self.https_port}"
            if text not in seen:
                seen.add(text)
                new.append(text)
        anchor = sources[-1].node
        anchor.file.insert_lines(anchor.last + 1, new, anchor.file.indent_of(anchor.first))
        self.config.reload()

    # -- saving ------------------------------------------------------------

    def save(self, temporary: bool = False, test: bool = True) -> list[Path]:
        """Write every change (after checkpoints); undo them if httpd rejects them."""
        return save_all(
            self.config,
            self.links,
            self.checkpointer,
            temporary,
            self.ctl.config_test if test else None,
        )

    def recovery_routine(self) -> None:
        """Forget in-memory edits; files on disk are the kernel's to restore."""
        self.links.links.clear()
        self.config.forget()


def _listen_port(arg: str) -> str:
    return arg.rsplit(":", 1)[-1] if ":" in arg else arg


def _listen_host(arg: str) -> str:
    return arg.rsplit(":", 1)[0] if ":" in arg else ""


def _load_depends(path: Path) -> list[str]:
    """Debian's ``# Depends: a b`` line in a ``.load`` file."""
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("# Depends:"):
            return split_args(line.split(":", 1)[1])
    return []


def _walk(node: Node) -> list[Node]:
    out: list[Node] = []
    for child in node.children:
        out.append(child)
        if child.is_section:
            out.extend(_walk(child))
    return out


def _vhost_in(conf: ConfFile, config: ApacheConfig, near_line: int | None = None) -> VirtualHost:
    """The vhost of a file (the one at or after ``near_line``) as a VirtualHost."""
    from .vhosts import _make

    nodes = [n for n in _walk(conf.root) if n.is_section and n.lname == "virtualhost"]
    if not nodes:
        raise MisconfigurationError(f"{conf.path}: no <VirtualHost> section")
    node = nodes[0]
    if near_line is not None:
        node = min(nodes, key=lambda n: abs(n.first - near_line))
    active = any(a.node is node for a in config.active)
    return _make(config, node, list(node.args), active, False, 0)


__all__ = ["Addr", "ApacheInstaller"]
