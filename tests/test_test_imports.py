"""Test packages do not import each other: what two of them share lives in tests/infra.

A helper imported from another test package ties the two together (moving or
deleting one breaks the other, and a test module imported for its helpers
has its tests collected twice over); a test module is never imported at all.
Checked on the AST of every file under tests/: ``import tests.X``,
``from tests.X import``, ``from tests import X`` and relative imports that
climb out of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SHARED = "infra"


def _imported(path: Path, tests: Path) -> list[tuple[int, str]]:
    """(line, dotted module under ``tests``) for every import of a test module or package."""
    package = ("tests", *path.parent.relative_to(tests).parts)  # ("tests", "dns")
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "tests"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "tests":
                continue
            if module == "tests" or (node.level and not node.module):
                found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, module))
    return found


def _problems(path: Path, tests: Path = TESTS) -> list[str]:
    here = path.parent.relative_to(tests).parts[:1]  # ("dns",) or () for tests/ itself
    problems = []
    for line, module in _imported(path, tests):
        parts = module.split(".")[1:]  # without "tests"
        where = f"tests/{path.relative_to(tests)}:{line} imports {module}"
        if parts and parts[-1].startswith("test_"):
            problems.append(f"{where}: a test module; move what it shares into a helper module")
        elif parts and parts[0] != SHARED and tuple(parts[:1]) != here:
            problems.append(f"{where}: another test package; move the helper to tests/{SHARED}")
    return problems


def test_no_test_package_imports_another() -> None:
    problems = [p for path in sorted(TESTS.rglob("*.py")) for p in _problems(path)]
    assert problems == []


def test_the_rule_catches_each_kind_of_import(tmp_path: Path) -> None:
    probe = tmp_path / "zz_probe_pkg" / "test_probe.py"
    probe.parent.mkdir()
    probe.write_text(
        "from tests.dns.fakes import FakeApi\n"          # another package
        "import tests.storage.checks\n"                   # another package
        "from tests import sandbox\n"                     # another package
        "from ..renew import renew_env\n"                 # climbs out
        "from .test_other import helper\n"                # a test module
        "from tests.infra.pebble import Pebble\n"         # shared: fine
        "from .helpers import thing\n"                    # own package: fine
        "from tests.zz_probe_pkg import helpers\n")       # own package: fine
    assert [p.split(" imports ")[1].split(":")[0] for p in _problems(probe, tmp_path)] == [
        "tests.dns.fakes", "tests.storage.checks", "tests.sandbox", "tests.renew",
        "tests.zz_probe_pkg.test_other"]
