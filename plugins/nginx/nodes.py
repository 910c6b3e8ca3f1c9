"""The lossless syntax tree of an nginx configuration file.

Every byte of the source lives in exactly one place of the tree: the text
between words ("gaps": whitespace and comments), the words as written
(``raw``, quotes and escapes included), the ``;`` or the braces. Writing a
tree back therefore reproduces the input byte for byte, and an edit touches
only the nodes it changes. Text is held as ``str`` decoded from UTF-8 with
``surrogateescape``, so files in other encodings survive unchanged too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

ENCODING = "utf-8"
ERRORS = "surrogateescape"


def decode(data: bytes) -> str:
    """Bytes of a config file to text that encodes back to the same bytes."""
    return data.decode(ENCODING, ERRORS)


def encode(text: str) -> bytes:
    """The inverse of :func:`decode`."""
    return text.encode(ENCODING, ERRORS)


@dataclass
class Word:
    """One word of a directive: its exact source text and nginx's reading of it."""

    raw: str
    value: str
    line: int = 0

    @classmethod
    def make(cls, value: str) -> Word:
        """A new word for ``value``, quoted only when nginx would need quotes."""
        return cls(raw=quote(value), value=value)


@dataclass
class Block:
    """The children of a ``{ ... }`` block and the text before its ``}``."""

    children: list[Directive] = field(default_factory=list)
    trailing: str = ""

    def dump(self) -> str:
        return "".join(child.dump() for child in self.children) + self.trailing


@dataclass
class Directive:
    """A simple directive (``name args;``) or a block directive.

    ``gaps[i]`` is the text before ``words[i]`` (``gaps[0]`` holds the blank
    lines and comments above the directive); ``end_gap`` is the text between
    the last word and the ``;`` or ``{``. A block directive has ``block``; a
    Lua block (``*_by_lua_block``) keeps its body verbatim in ``raw_body``
    because it is Lua, not nginx syntax.
    """

    words: list[Word]
    gaps: list[str]
    end_gap: str = ""
    block: Block | None = None
    raw_body: str | None = None
    file: str = ""
    line: int = 0
    included: list[str] | None = None  # for ``include``: the files it pulled in

    @property
    def name(self) -> str:
        return self.words[0].value

    @property
    def args(self) -> list[str]:
        return [w.value for w in self.words[1:]]

    @property
    def is_block(self) -> bool:
        return self.block is not None or self.raw_body is not None

    def dump(self) -> str:
        parts: list[str] = []
        for gap, word in zip(self.gaps, self.words, strict=True):
            parts.append(gap)
            parts.append(word.raw)
        parts.append(self.end_gap)
        if self.raw_body is not None:
            parts.append("{" + self.raw_body + "}")
        elif self.block is not None:
            parts.append("{" + self.block.dump() + "}")
        else:
            parts.append(";")
        return "".join(parts)

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class ConfigFile:
    """One parsed file: its top-level directives and its trailing text."""

    path: str
    body: Block
    original: bytes = b""

    def dump(self) -> bytes:
        return encode(self.body.dump())

    @property
    def changed(self) -> bool:
        return self.dump() != self.original


def walk(block: Block) -> Iterator[Directive]:
    """Every directive in ``block``, depth first, in source order (no includes)."""
    for child in block.children:
        yield child
        if child.block is not None:
            yield from walk(child.block)


_SPECIAL = set(" \t\r\n;{}\"'\\#")


def quote(value: str) -> str:
    """Source text for ``value``: bare when safe, else double-quoted with escapes."""
    if value and not (set(value) & _SPECIAL):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def new_directive(
    name: str, *args: str, indent: str = "", newline: str = "\n", block: Block | None = None
) -> Directive:
    """A directive built by us, laid out on its own line after ``indent``."""
    words = [Word.make(name)] + [Word.make(a) for a in args]
    gaps = [newline + indent] + [" "] * len(args)
    return Directive(words=words, gaps=gaps, end_gap=" " if block is not None else "", block=block)
