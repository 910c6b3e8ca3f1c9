"""Every code name docs/internals.md mentions exists, so the map of the code cannot lie.

The page names modules, classes, functions and methods in backticks
(``certkernel.lock``, ``PluginProcess.start(...)``, ``.call(method, params)``,
``obtain_cert``) and shows imports in ``python`` blocks. Dotted
``certkernel.*`` names are imported and looked up with getattr; other names
are looked up in the AST of every room (kernel/, plugin-host/, plugins/,
protocol/, sdk/python): ``Class.member`` in the classes of that name,
``module.name`` in the modules of that name, ``.member`` in any class, and a
bare name among everything defined. Spans that are not code (paths, flags,
config keys, plain words) are told apart by their shape; see ``_check``.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import re
import typing
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from certkernel.protocol.methods import METHODS

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "internals.md"
# Checkout folder -> the package it installs as (setup.py's ROOTS and the SDK's).
ROOMS = {"kernel": "certkernel", "plugin-host": "certkernel.plugin_host",
         "plugins": "certkernel.plugins", "protocol": "certkernel.protocol",
         "sdk/python": "certkernel.sdk"}
NOT_CODE_SUFFIXES = (".py", ".md", ".toml", ".json", ".conf", ".ts", ".sh", "/")
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
# Names the page uses that are not ours to define, and why.
NOT_OURS = {"openat2": "the Linux system call certkernel.beneath wraps"}
CHAIN = re.compile(rf"^(?P<lead>self\.|\.)?(?P<chain>{IDENT}(?:\.{IDENT})*(?:/{IDENT})*)$")


@dataclass
class Index:
    """What the rooms define: per module, per class, and everything at all."""

    modules: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    classes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    names: set[str] = field(default_factory=set)

    def modules_named(self, dotted: str) -> list[str]:
        """Modules whose dotted name ends with ``dotted`` (``commands.certonly``)."""
        return [m for m in self.modules if m == dotted or m.endswith("." + dotted)]


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Tuple):
        return [n for elt in node.elts for n in _targets(elt)]
    return []


def _top_level(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(n for t in node.targets for n in _targets(t))
        elif isinstance(node, ast.AnnAssign):
            names.update(_targets(node.target))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _members(cls: ast.ClassDef) -> set[str]:
    members: set[str] = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            members.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            members.add(node.attr)
    for node in cls.body:
        if isinstance(node, ast.Assign):
            members.update(n for t in node.targets for n in _targets(t))
        elif isinstance(node, ast.AnnAssign):
            members.update(_targets(node.target))
    return members


def _index() -> Index:
    index = Index()
    for room, package in ROOMS.items():
        for path in sorted((REPO / room).rglob("*.py")):
            rel = path.relative_to(REPO / room).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            module = ".".join([package, *parts])
            tree = ast.parse(path.read_text(), str(path))
            index.modules[module] |= _top_level(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    index.classes[node.name] |= _members(node)
                    index.names |= _members(node)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    index.names.add(node.name)
                elif isinstance(node, ast.Assign | ast.AnnAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    index.names.update(n for t in targets for n in _targets(t))
    index.names |= set(METHODS)  # protocol method names are names too
    index.names |= {m.rsplit(".", 1)[-1] for m in index.modules}  # so are module names
    return index


INDEX = _index()


def _import_path(dotted: str) -> str | None:
    """None if ``certkernel.a.b.C.d`` exists (longest importable module, then getattr)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return f"{'.'.join(parts[:cut])} has no {'.'.join(parts[cut:])}"
            obj = getattr(obj, attr)
        return None
    return f"no module {dotted}"


def _strip(span: str) -> tuple[str, bool]:
    """The name chain of a span: no ``-> result``, no ``(args)``, no ``[key]``."""
    text = span.split(" -> ")[0].strip()
    called = "(" in text
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"\([^()]*\)|\[[^\[\]]*\]", "", text)
    return text, called


def _alternatives(chain: str) -> list[list[str]]:
    """``A.b/c`` -> ``A.b`` and ``A.c``; ``load/save`` -> ``load`` and ``save``."""
    first, *others = chain.split("/")
    parts = first.split(".")
    return [parts] + [[*parts[:-1], other] for other in others]


def _is_code_word(name: str, called: bool) -> bool:
    """A bare name that is code: a ClassName, a snake_case_name, or ``name()``."""
    if name.isupper():  # environment variables, constants of other programs
        return False
    return called or name[0].isupper() or "_" in name.strip("_")


def _check_parts(parts: list[str], lead: str | None, called: bool) -> str | None:
    head, rest = parts[0], parts[1:]
    if head == "certkernel":
        return _import_path(".".join(parts))
    if lead:  # ``.call(...)``, ``self.fds``: a member of some class
        if any(parts[-1] in members for members in INDEX.classes.values()):
            return None
        return f"no class has a member {parts[-1]}"
    if not rest:
        if not _is_code_word(head, called) or head in INDEX.names or head in NOT_OURS:
            return None
        if hasattr(builtins, head) or hasattr(typing, head):
            return None
        return f"nothing is named {head}"
    if head in INDEX.classes:
        return None if rest[0] in INDEX.classes[head] else f"class {head} has no {rest[0]}"
    for cut in range(len(parts) - 1, 0, -1):
        modules = INDEX.modules_named(".".join(parts[:cut]))
        if modules:
            if any(parts[cut] in INDEX.modules[m] for m in modules):
                return None
            return f"module {'.'.join(parts[:cut])} has no {parts[cut]}"
    if head[0].isupper():
        return f"no class {head}"
    return None  # lowercase and neither a module nor a class: a file name (cgroup.kill)


def _check(span: str) -> list[str]:
    """Problems with one backticked span (empty when it is fine or not code)."""
    if span.endswith(NOT_CODE_SUFFIXES) or span.startswith(("-", "$", "<", "[", "/")):
        return []
    text, called = _strip(span)
    match = CHAIN.match(text)
    if match is None:  # prose, flags, lists of keys, shell commands
        return []
    problems = []
    for parts in _alternatives(match["chain"]):
        problem = _check_parts(parts, match["lead"], called)
        if problem:
            problems.append(f"`{span}`: {problem}")
    return problems


def _inline_spans(text: str) -> list[str]:
    prose = re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)
    return re.findall(r"`([^`\n]+)`", prose.replace("\n  ", " ").replace("\n", " "))


def _field_lists(text: str) -> list[tuple[str, list[str]]]:
    """(class, fields) for every "`Class`: `a, b, c`" or "`Class` fields: `a, b`"."""
    prose = re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)
    prose = prose.replace("\n  ", " ").replace("\n", " ")
    found = []
    for cls, names in re.findall(r"`([A-Z]\w*)`(?: fields)?: `([^`(]*,[^`]*)`", prose):
        found.append((cls, [re.split(r"[:( ]", n.strip())[0] for n in names.split(",")]))
    return found


def _block_imports(text: str) -> list[str]:
    """``module.name`` for every name an import line of a ``python`` block names.

    The blocks are signatures rather than programs; their import lines are Python.
    """
    found = []
    for block in re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S):
        lines = [ln for ln in block.splitlines() if ln.startswith(("from ", "import "))]
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found += [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                found += [a.name for a in node.names]
    return found


def test_every_code_name_in_internals_md_exists() -> None:
    text = DOC.read_text()
    problems = [p for span in _inline_spans(text) for p in _check(span)]
    problems += [f"python block imports {name}: {problem}" for name in _block_imports(text)
                 if (problem := _import_path(name))]
    assert problems == []


def test_every_field_list_names_fields_of_its_class() -> None:
    lists = _field_lists(DOC.read_text())
    assert {cls for cls, _ in lists} >= {"Manifest", "OptionSpec", "Challenge"}
    missing = [f"{cls}.{name}" for cls, names in lists for name in names
               if name not in INDEX.classes.get(cls, set())]
    assert missing == []


@pytest.mark.parametrize("span", [
    "SpawnSpec", "ErrorInfo", "PluginProcess.spawn_now(manifest)", "certkernel.no_such_module",
    "certkernel.lock.no_such_function", ".no_such_method(x)", "no_such_helper",
    "renewal_plan.no_such_function", "Lineage.load/no_such_sibling",
])
def test_a_name_that_does_not_exist_is_reported(span: str) -> None:
    assert len(_check(span)) == 1


@pytest.mark.parametrize("span", [
    "certkernel.lock", "Lineage.delete()", ".call(method, params)", "make_plan(config) -> Plan",
    "renewal_plan.is_due", "METHODS[name]", "--cert-name", "renewal/*.conf", "certkernel plugins",
    "RENEWED_DOMAINS", "cgroup.kill", "name, type, help", "str(exc)",
])
def test_names_that_exist_and_spans_that_are_not_code_pass(span: str) -> None:
    assert _check(span) == []
