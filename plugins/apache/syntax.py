"""Apache httpd configuration syntax: one file's text to a tree and back.

Why our own parser and not Augeas: the Augeas ``Httpd`` lens re-renders
nodes next to an edit, and in doing so it drops indentation and even the
space in ``RewriteRule ^ "https://x" [R]`` (giving ``"https://x"[R]``, a
different rule). Here a file is kept as its exact physical lines; the tree
only points into them, so serialising is ``"".join(lines)`` and every byte
we did not edit stays as it was.

The grammar follows httpd's own reader (``ap_cfg_getline`` and
``ap_build_config``): a line ending in a backslash continues on the next
one (comments too), a logical line whose first non-blank character is ``#``
is a comment, ``<Name args>`` opens a section that ``</Name>`` closes
(names compare case-insensitively), anything else is ``Directive args``.
Arguments are split the way ``ap_getword_conf`` does it: whitespace
separated, with ``"`` or ``'`` quoting and backslash escapes inside quotes.
What httpd would refuse (unclosed section, mismatched close, a section line
without ``>``) is a :class:`MisconfigurationError` naming file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from certkernel.sdk import MisconfigurationError


@dataclass
class Node:
    """A directive or section: where it is and what it says.

    ``first``/``last`` are indexes of the physical lines it spans in its
    file (for a section, ``last`` is the closing line).
    """

    name: str
    args: list[str]
    file: ConfFile
    first: int
    last: int
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    is_section: bool = False
    head_last: int = -1

    @property
    def lname(self) -> str:
        """Lower-cased name: httpd matches directive names case-insensitively."""
        return self.name.lower()

    @property
    def lineno(self) -> int:
        """1-based line number, for messages."""
        return self.first + 1

    def where(self) -> str:
        """``file:line`` for error messages."""
        return f"{self.file.path}:{self.lineno}"

    def body_end(self) -> int:
        """Index of the line a new last child goes before (the closing line)."""
        return self.last if self.is_section else self.last + 1


def split_args(text: str) -> list[str]:
    """Split an argument string like ``ap_getword_conf`` (quotes removed)."""
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        quote = text[i]
        if quote in "\"'":
            i += 1
            buf: list[str] = []
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n and text[i + 1] in (quote, "\\"):
                    i += 1
                buf.append(text[i])
                i += 1
            i += 1  # the closing quote (httpd tolerates a missing one)
            args.append("".join(buf))
        else:
            start = i
            while i < n and text[i] not in " \t\r\n":
                i += 1
            args.append(text[start:i])
    return args


def quote_arg(value: str) -> str:
    """Quote an argument if httpd would otherwise split or misread it."""
    if value and not any(c in value for c in " \t\"'\\") and not value.startswith("#"):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_lines(text: str) -> list[str]:
    """Physical lines with their endings; only ``\\n`` ends a line, as in httpd."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _logical_lines(lines: list[str]) -> list[tuple[int, int, str]]:
    """Join continuation lines: (first index, last index, joined text)."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(lines):
        first = i
        parts: list[str] = []
        while True:
            text = lines[i].rstrip("\r\n").rstrip(" \t\r")
            if text.endswith("\\") and i + 1 < len(lines):
                parts.append(text[:-1])
                i += 1
                continue
            parts.append(text)
            break
        out.append((first, i, "".join(parts)))
        i += 1
    return out


class ConfFile:
    """One configuration file: its exact lines and the tree over them."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = split_lines(text)
        self.root = Node("", [], self, 0, max(len(self.lines) - 1, 0), is_section=True)
        self.dirty = False
        self.reparse()

    @classmethod
    def read(cls, path: Path) -> ConfFile:
        """Read a file as bytes; undecodable bytes survive via surrogateescape."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise MisconfigurationError(
                f"cannot read Apache config {path}: {exc.strerror}"
            ) from exc
        return cls(path, data.decode("utf-8", "surrogateescape"))

    def text(self) -> str:
        """The file's text: the original bytes wherever nothing was edited."""
        return "".join(self.lines)

    def data(self) -> bytes:
        """The file's bytes, as they go to disk."""
        return self.text().encode("utf-8", "surrogateescape")

    def newline(self) -> str:
        """The line ending this file uses (CRLF files stay CRLF)."""
        return "\r\n" if self.lines and self.lines[0].endswith("\r\n") else "\n"

    def reparse(self) -> None:
        """Rebuild the tree from the current lines (after an edit)."""
        self.root = Node("", [], self, 0, max(len(self.lines) - 1, 0), is_section=True)
        stack = [self.root]
        for first, last, text in _logical_lines(self.lines):
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            parent = stack[-1]
            if stripped.startswith("</"):
                # httpd reads only the first word and ignores the rest of the line
                name = stripped[2:].split()[0].rstrip(">") if stripped[2:].split() else ""

                if len(stack) == 1:
                    raise MisconfigurationError(
                        f"{self.path}:{first + 1}: </{name}> without matching <{name}> section"
                    )
                if name.lower() != parent.lname:
                    raise MisconfigurationError(
                        f"{self.path}:{first + 1}: expected </{parent.name}> but saw </{name}>"
                    )
                parent.last = last
                stack.pop()
                continue
            if stripped.startswith("<"):
                if not stripped.endswith(">"):
                    raise MisconfigurationError(
                        f"{self.path}:{first + 1}: <{stripped[1:].split()[0] if stripped[1:].split() else ''}> "
                        "section line is missing its closing '>'"
                    )
                inner = stripped[1:-1].strip()
                name, _, rest = inner.partition(" ")
                if "\t" in name:
                    name, _, more = name.partition("\t")
                    rest = more + " " + rest
                if not name:
                    raise MisconfigurationError(f"{self.path}:{first + 1}: empty section name '<>'")
                node = Node(
                    name,
                    split_args(rest),
                    self,
                    first,
                    last,
                    parent,
                    is_section=True,
                    head_last=last,
                )
                parent.children.append(node)
                stack.append(node)
                continue
            parts = stripped.split(None, 1)
            node = Node(
                parts[0], split_args(parts[1] if len(parts) > 1 else ""), self, first, last, parent
            )
            parent.children.append(node)
        if len(stack) > 1:
            open_node = stack[-1]
            raise MisconfigurationError(
                f"{self.path}:{open_node.lineno}: <{open_node.name}> section is never closed "
                f"(expected </{open_node.name}>)"
            )
        self.root.last = max(len(self.lines) - 1, 0)

    # -- edits: each works on lines, then reparses, so the tree stays exact --

    def indent_of(self, index: int) -> str:
        """Leading whitespace of a line."""
        line = self.lines[index]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def child_indent(self, section: Node) -> str:
        """Indentation for a new child: copy a sibling's, else the section's + 4 spaces."""
        if section.children:
            return self.indent_of(section.children[0].first)
        if section is self.root or section.parent is None:
            return ""
        return self.indent_of(section.first) + "    "

    def insert_lines(self, index: int, texts: list[str], indent: str) -> None:
        """Insert lines (without endings) before line ``index``, indented."""
        nl = self.newline()
        if index > 0 and index == len(self.lines) and not self.lines[-1].endswith("\n"):
            self.lines[-1] += nl
        new = [(indent + t if t else "") + nl for t in texts]
        self.lines[index:index] = new
        self.dirty = True
        self.reparse()

    def append_to(self, section: Node, texts: list[str], at_start: bool = False) -> None:
        """Add lines as the last (or first) children of ``section``."""
        indent = self.child_indent(section)
        if section is self.root:
            index = 0 if at_start else len(self.lines)
        elif at_start:
            index = section.head_last + 1
        else:
            index = section.body_end()
        self.insert_lines(index, texts, indent)

    def remove(self, node: Node) -> None:
        """Delete a node's lines (a section with everything in it)."""
        del self.lines[node.first : node.last + 1]
        self.dirty = True
        self.reparse()

    def replace(self, node: Node, text: str) -> None:
        """Replace a directive's lines by one line, keeping its indentation."""
        indent = self.indent_of(node.first)
        ending = (
            self.lines[node.last][len(self.lines[node.last].rstrip("\r\n")) :] or self.newline()
        )
        self.lines[node.first : node.last + 1] = [indent + text + ending]
        self.dirty = True
        self.reparse()


def walk(node: Node) -> list[Node]:
    """Every node below ``node`` in file order (no include following)."""
    out: list[Node] = []
    for child in node.children:
        out.append(child)
        if child.is_section:
            out.extend(walk(child))
    return out
