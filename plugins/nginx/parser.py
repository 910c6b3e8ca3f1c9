"""Parse nginx configuration into a lossless tree and follow ``include``.

:func:`parse_text` turns one file into a :class:`~.nodes.ConfigFile` whose
``dump()`` gives back the exact input bytes. :class:`NginxConfig` loads a
whole server root the way nginx does: start at ``nginx.conf``, resolve each
``include`` relative to the server root (not to the including file), expand
globs in sorted order, and refuse a missing non-glob include, a cycle, or
anything the reader cannot understand with an error naming file and line.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from certkernel.sdk import MisconfigurationError

from .lexer import Lexer
from .nodes import Block, ConfigFile, Directive, decode, walk

LUA_SUFFIX = "_by_lua_block"


def is_lua_block(name: str) -> bool:
    """True for directives whose ``{...}`` body is Lua (OpenResty)."""
    return name.endswith(LUA_SUFFIX) or name == "lua_block"


def parse_text(text: str, path: str) -> Block:
    """Parse one file's text into its top-level block."""
    lexer = Lexer(text, path)
    return _parse_block(lexer, None)


def parse_file(path: str) -> ConfigFile:
    """Read and parse one file (bytes kept for change detection)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise MisconfigurationError(f"{path}: cannot read: {exc.strerror}") from exc
    return ConfigFile(path=path, body=parse_text(decode(data), path), original=data)


def _parse_block(lexer: Lexer, opened_at: int | None) -> Block:
    children: list[Directive] = []
    while True:
        gap = lexer.gap()
        ch = lexer.peek()
        if ch == "":
            if opened_at is not None:
                raise lexer.fail("block opened here is never closed: end of file reached, expecting '}'", opened_at)
            return Block(children, gap)
        if ch == "}":
            if opened_at is None:
                raise lexer.fail("unexpected '}' (no block is open)")
            lexer.advance()
            return Block(children, gap)
        if ch in ";{":
            raise lexer.fail(f"unexpected '{ch}' (a directive name is missing)")
        children.append(_parse_directive(lexer, gap))


def _parse_directive(lexer: Lexer, first_gap: str) -> Directive:
    line = lexer.line
    words = [lexer.word()]
    gaps = [first_gap]
    while True:
        gap = lexer.gap()
        ch = lexer.peek()
        if ch == ";":
            lexer.advance()
            return Directive(words, gaps, gap, file=lexer.path, line=line)
        if ch == "{":
            lexer.advance()
            directive = Directive(words, gaps, gap, file=lexer.path, line=line)
            if is_lua_block(words[0].value):
                directive.raw_body = lexer.raw_block(line)
            else:
                directive.block = _parse_block(lexer, line)
            return directive
        if ch == "}":
            raise lexer.fail(f"directive '{words[0].value}' is not terminated by ';' (found '}}')", line)
        if ch == "":
            raise lexer.fail(f"directive '{words[0].value}' is not terminated by ';' (end of file)", line)
        words.append(lexer.word())
        gaps.append(gap)


_GLOB_CHARS = set("*?[")


@dataclass
class NginxConfig:
    """All files of one server root, parsed, with includes resolved.

    ``files`` maps absolute paths to parsed files, in the order nginx reads
    them; a file included in several places is parsed once and shared.
    """

    server_root: str
    main: str
    files: dict[str, ConfigFile] = field(default_factory=dict)

    @classmethod
    def load(cls, server_root: str, main: str = "nginx.conf") -> NginxConfig:
        root = os.path.abspath(server_root)
        main_path = main if os.path.isabs(main) else os.path.join(root, main)
        if not os.path.isfile(main_path):
            raise MisconfigurationError(
                f"No nginx configuration at {main_path}; set --nginx-server-root to the folder holding nginx.conf"
            )
        config = cls(server_root=root, main=main_path)
        config._load_file(main_path, ())
        return config

    def resolve(self, pattern: str) -> tuple[str, bool]:
        """An include argument as an absolute path (relative to the server root)."""
        path = pattern if os.path.isabs(pattern) else os.path.join(self.server_root, pattern)
        return os.path.normpath(path), bool(set(pattern) & _GLOB_CHARS)

    def _load_file(self, path: str, stack: tuple[str, ...]) -> ConfigFile:
        if path in stack:
            raise MisconfigurationError(f"{path}: include cycle: {' -> '.join(stack + (path,))}")
        if path in self.files:
            return self.files[path]
        parsed = parse_file(path)
        self.files[path] = parsed
        for directive in walk(parsed.body):
            if directive.name == "include" and not directive.is_block:
                self._follow(directive, stack + (path,))
        return parsed

    def _follow(self, directive: Directive, stack: tuple[str, ...]) -> None:
        if len(directive.args) != 1:
            raise MisconfigurationError(f"{directive.where()}: 'include' takes exactly one argument")
        target, is_glob = self.resolve(directive.args[0])
        if is_glob:
            paths = sorted(p for p in glob.glob(target) if os.path.isfile(p))
        elif os.path.isfile(target):
            paths = [target]
        else:
            raise MisconfigurationError(f"{directive.where()}: included file {target} does not exist")
        directive.included = paths
        for path in paths:
            self._load_file(path, stack)

    def expand(self, block: Block) -> Iterator[Directive]:
        """The children of ``block`` with each ``include`` replaced by its files' contents."""
        for child in block.children:
            if child.name == "include" and child.included is not None:
                for path in child.included:
                    yield from self.expand(self.files[path].body)
            else:
                yield child

    @property
    def root_block(self) -> Block:
        return self.files[self.main].body

