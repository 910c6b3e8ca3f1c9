"""The whole Apache configuration as httpd itself would read it.

Starting from the main file, this follows ``Include``/``IncludeOptional``
(globs, directories, paths relative to ``ServerRoot``), keeps ``Define``
variables and substitutes ``${VAR}``, and decides ``<IfModule>``,
``<IfDefine>`` and ``<IfFile>`` the way httpd would, so the plugin sees
the same active directives the server does. ``<Macro>`` bodies are
templates, not configuration: they are never treated as active.

Files are loaded once and edited in memory (:mod:`.syntax`); :meth:`save`
tells the caller which files are about to change (so they can be
registered as checkpoints first) and then writes them.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from certkernel.sdk import MisconfigurationError
from certkernel.sdk.atomic import write_atomic

from .syntax import ConfFile, Node

# Modules compiled into Debian's and RHEL's httpd (``apache2 -l``).
STATIC_MODULES = (
    "core.c",
    "mod_so.c",
    "mod_watchdog.c",
    "http_core.c",
    "mod_log_config.c",
    "mod_logio.c",
    "mod_version.c",
    "mod_unixd.c",
)

CONDITIONAL_SECTIONS = {"ifmodule", "ifdefine", "iffile", "ifversion", "ifdirective", "ifsection"}


@dataclass
class ActiveNode:
    """A node that httpd would apply, with its arguments after ``${VAR}`` expansion."""

    node: Node
    args: list[str]
    depth: int  # nesting of non-conditional sections (0 = server level)
    enclosing: list[Node] = field(default_factory=list)  # non-conditional sections around it


def module_aliases(name: str, path: str = "") -> set[str]:
    """Both spellings ``<IfModule>`` accepts: ``ssl_module`` and ``mod_ssl.c``."""
    out = {name}
    if name.endswith("_module"):
        out.add("mod_" + name[: -len("_module")] + ".c")
    if path:
        stem = Path(path).name
        if stem.endswith(".so"):
            out.add(stem[:-3] + ".c")
    return out


def static_module_names() -> set[str]:
    """The compiled-in modules, under both spellings."""
    names: set[str] = set()
    for src in STATIC_MODULES:
        names.add(src)
        base = src[:-2]
        names.add((base[4:] if base.startswith("mod_") else base) + "_module")
    return names


class ApacheConfig:
    """Every file httpd reads, and the active directives in order."""

    def __init__(
        self,
        server_root: Path,
        main_file: Path,
        defines: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.server_root = server_root
        self.main_file = main_file
        self.cli_defines = dict(defines or {})
        self.env = dict(os.environ if env is None else env)
        self.files: dict[Path, ConfFile] = {}
        self.new_files: set[Path] = set()
        self.active: list[ActiveNode] = []
        self.defines: dict[str, str] = {}
        self.modules: set[str] = set()
        self.include_edges: list[tuple[Node, Path]] = []
        self.reload()

    # -- loading -----------------------------------------------------------

    def file(self, path: Path) -> ConfFile:
        """The parsed file at ``path`` (read once, then kept with its edits)."""
        path = Path(os.path.normpath(path))
        if path not in self.files:
            self.files[path] = ConfFile.read(path)
        return self.files[path]

    def forget(self) -> None:
        """Drop in-memory edits: next evaluation rereads from disk."""
        self.files.clear()
        self.new_files.clear()
        self.reload()

    def reload(self) -> None:
        """Re-evaluate the active configuration from the in-memory files."""
        if not self.main_file.is_file():
            raise MisconfigurationError(
                f"Apache main config {self.main_file} not found; "
                "set --apache-server-root to the folder that holds it"
            )
        self.active = []
        self.defines = dict(self.cli_defines)
        self.modules = static_module_names()
        self.include_edges = []
        self._server_root_value = self.server_root
        self._walk(self.file(self.main_file).root, 0, [], set())

    def _expand(self, text: str, node: Node) -> str:
        """Substitute ``${VAR}`` from Define and the environment, as httpd does."""
        out = []
        i = 0
        while i < len(text):
            if text.startswith("${", i):
                end = text.find("}", i)
                if end == -1:
                    raise MisconfigurationError(f"{node.where()}: unterminated ${{ in {text!r}")
                name = text[i + 2 : end]
                if name in self.defines:
                    out.append(self.defines[name])
                elif name in self.env:
                    out.append(self.env[name])
                else:
                    out.append(text[i : end + 1])  # httpd warns and keeps it literally
                i = end + 1
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def _condition(self, node: Node, args: list[str]) -> bool:
        """Whether a conditional section's body is read."""
        name = node.lname
        if name in ("ifversion", "ifdirective", "ifsection"):
            return True
        if not args:
            raise MisconfigurationError(f"{node.where()}: <{node.name}> needs an argument")
        arg = args[0]
        negate = arg.startswith("!")
        arg = arg[1:] if negate else arg
        if name == "ifmodule":
            result = arg in self.modules
        elif name == "ifdefine":
            result = arg in self.defines
        else:  # iffile
            result = self.resolve(arg).exists()
        return result != negate

    def resolve(self, path: str) -> Path:
        """A path as httpd resolves it: relative ones against ServerRoot."""
        p = Path(path)
        return p if p.is_absolute() else self._server_root_value / p

    def _walk(self, section: Node, depth: int, enclosing: list[Node], seen: set[Path]) -> None:
        for node in section.children:
            args = [self._expand(a, node) for a in node.args]
            if not node.is_section:
                self.active.append(ActiveNode(node, args, depth, list(enclosing)))
                self._directive(node, args, depth, enclosing, seen)
            elif node.lname in CONDITIONAL_SECTIONS:
                if self._condition(node, args):
                    self._walk(node, depth, enclosing, seen)
            else:
                self.active.append(ActiveNode(node, args, depth, list(enclosing)))
                if node.lname != "macro":  # a macro's body is only a template
                    self._walk(node, depth + 1, [*enclosing, node], seen)

    def _directive(self, node: Node, args: list[str], depth: int, enclosing: list[Node],
                   seen: set[Path]) -> None:
        """What one active directive changes in the walk: defines, modules, includes."""
        lname = node.lname
        if lname == "define" and args:
            self.defines[args[0]] = args[1] if len(args) > 1 else ""
        elif lname == "undefine" and args:
            self.defines.pop(args[0], None)
        elif lname == "loadmodule" and args:
            self.modules |= module_aliases(args[0], args[1] if len(args) > 1 else "")
        elif lname == "serverroot" and args and depth == 0:
            self._server_root_value = Path(args[0])
        elif lname in ("include", "includeoptional") and args:
            for path in self._include_targets(node, args[0], lname == "includeoptional"):
                self.include_edges.append((node, path))
                if path in seen:
                    raise MisconfigurationError(
                        f"{node.where()}: {node.name} {args[0]} includes {path} recursively"
                    )
                self._walk(self.file(path).root, depth, enclosing, seen | {path})

    def _include_targets(self, node: Node, pattern: str, optional: bool) -> list[Path]:
        """Files an Include names: a file, a directory's files, or a glob, sorted."""
        full = Path(os.path.normpath(self.resolve(pattern)))
        text = str(full)
        if full in self.new_files:  # created in memory, not yet saved
            return [full]
        if glob.has_magic(text):
            unsaved = [str(p) for p in self.new_files if fnmatch.fnmatchcase(str(p), text)]
            matches = sorted(set(glob.glob(text)) | set(unsaved))
            files = [Path(m) for m in matches if os.path.isfile(m) or m in unsaved]
            if not files and not optional and not glob.has_magic(os.path.dirname(text)):
                raise MisconfigurationError(
                    f"{node.where()}: Include {pattern} matches no file "
                    "(httpd refuses this; use IncludeOptional)"
                )
            return [Path(os.path.normpath(f)) for f in files]
        if full.is_dir():
            return [
                Path(os.path.normpath(full / n))
                for n in sorted(os.listdir(full))
                if (full / n).is_file()
            ]
        if full.is_file():
            return [Path(os.path.normpath(full))]
        if optional:
            return []
        raise MisconfigurationError(f"{node.where()}: Include {pattern}: {full} does not exist")

    # -- queries -----------------------------------------------------------

    def find(self, name: str, within: Node | None = None) -> Iterator[ActiveNode]:
        """Active directives/sections called ``name`` (anywhere, or inside ``within``)."""
        lname = name.lower()
        for item in self.active:
            if item.node.lname != lname:
                continue
            if within is not None and within not in item.enclosing:
                continue
            yield item

    def module_loaded(self, module: str) -> bool:
        """``ssl`` / ``ssl_module`` / ``mod_ssl.c``: is it loaded by the config?"""
        if not module.endswith(("_module", ".c")):
            module = module + "_module"
        return module in self.modules

    def included_files(self) -> set[Path]:
        """Every file httpd reads (the main file and everything included)."""
        return {self.main_file, *(path for _, path in self.include_edges)}

    # -- changes -----------------------------------------------------------

    def create_file(self, path: Path, text: str) -> ConfFile:
        """A new file, held in memory until :meth:`save`."""
        path = Path(os.path.normpath(path))
        conf = ConfFile(path, text)
        conf.dirty = True
        self.files[path] = conf
        self.new_files.add(path)
        return conf

    def pending(self) -> tuple[list[Path], list[Path]]:
        """(existing files changed, new files) not yet written, as real paths.

        A Debian ``sites-enabled`` link is read under its own name but
        written (and registered) as the file it points to, so the link stays.
        An edit that leaves a file's bytes as they are on disk (a renewal
        pointing a vhost at the same ``live/`` paths) is no change: it is
        dropped here, so it makes no empty checkpoint that a later
        ``rollback --checkpoints 1`` would silently spend.
        """
        changed: set[Path] = set()
        new: set[Path] = set()
        for path, conf in self.files.items():
            if not conf.dirty:
                continue
            real = Path(os.path.realpath(path))
            if path not in self.new_files and _same_bytes(real, conf.data()):
                conf.dirty = False
                continue
            (new if path in self.new_files else changed).add(real)
        return sorted(changed), sorted(new)

    def save(
        self, before_write: Callable[[list[Path], list[Path]], None]
    ) -> dict[Path, bytes | None]:
        """Write every changed file; ``before_write(changed, new)`` runs first.

        Returns the previous bytes of each written file (``None`` for new
        ones), so a caller can put them back if httpd rejects the result.
        """
        changed, new = self.pending()
        if not changed and not new:
            return {}
        before_write(changed, new)
        previous: dict[Path, bytes | None] = {}
        for path, conf in list(self.files.items()):
            if not conf.dirty:
                continue
            real = Path(os.path.realpath(path))
            previous[real] = real.read_bytes() if real.exists() else None
            real.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(real, conf.data())  # keeps the file's mode (0644 for a new one)
            conf.dirty = False
        self.new_files.clear()
        return previous


def _same_bytes(path: Path, data: bytes) -> bool:
    """Whether ``path`` already holds exactly ``data``."""
    try:
        return path.read_bytes() == data
    except OSError:
        return False
