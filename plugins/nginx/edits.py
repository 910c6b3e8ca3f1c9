"""Small, layout-respecting edits of parsed server blocks.

New directives copy the indentation and line endings of their neighbours,
so an edited file still looks hand-written and every untouched byte stays
where it was.
"""

from __future__ import annotations

import copy

from .nodes import Block, Directive, Word, new_directive

MARK = "# managed by certkernel"


def layout(block: Block) -> tuple[str, str]:
    """(newline, indent) used by the children of ``block``."""
    for child in block.children:
        gap = child.gaps[0]
        if "\n" in gap:
            newline = "\r\n" if "\r\n" in gap else "\n"
            return newline, gap.rsplit("\n", 1)[1]
    newline = "\r\n" if "\r\n" in block.trailing else "\n"
    return newline, "    "


def make(block: Block, name: str, *args: str, sub: Block | None = None) -> Directive:
    """A directive laid out like the other children of ``block``."""
    newline, indent = layout(block)
    return new_directive(name, *args, indent=indent, newline=newline, block=sub)


def find(block: Block, name: str) -> list[Directive]:
    """Direct children of ``block`` called ``name``."""
    return [c for c in block.children if c.name == name]


def insert(block: Block, directive: Directive, index: int | None = None) -> None:
    """Add ``directive`` at ``index`` (default: last), keeping the ``}`` on its own line."""
    if index is None:
        block.children.append(directive)
        newline, _ = layout(block)
        if block.trailing == "" or "\n" not in block.trailing:
            block.trailing = newline + _outer_indent(directive) + block.trailing.lstrip(" \t")
    else:
        block.children.insert(index, directive)


def _outer_indent(directive: Directive) -> str:
    indent = directive.gaps[0].rsplit("\n", 1)[-1]
    return indent[:-4] if indent.endswith("    ") else indent[:-1] if indent.endswith("\t") else ""


def set_args(directive: Directive, *args: str) -> None:
    """Replace the arguments of ``directive``, keeping the gap after its name."""
    first_gap = directive.gaps[1] if len(directive.gaps) > 1 else " "
    directive.words = [directive.words[0]] + [Word.make(a) for a in args]
    directive.gaps = [directive.gaps[0]] + [first_gap] + [" "] * (len(args) - 1)
    directive.gaps = directive.gaps[: len(directive.words)]


def set_directive(block: Block, name: str, *args: str) -> bool:
    """Make ``name args;`` true in ``block``; return True if anything changed."""
    existing = find(block, name)
    if existing:
        if existing[0].args == list(args):
            return False
        set_args(existing[0], *args)
        return True
    insert(block, make(block, name, *args))
    return True


def block_of(block: Block, *lines: tuple[str, ...], parent: Block) -> Block:
    """A new child block for ``parent`` holding one directive per tuple in ``lines``."""
    newline, indent = layout(parent)
    inner = Block(trailing=newline + indent)
    for words in lines:
        inner.children.append(new_directive(*words, indent=indent + "    ", newline=newline))
    return inner


def clone_server(server: Directive) -> Directive:
    """A deep copy of a server block (same file, no shared nodes)."""
    return copy.deepcopy(server)
