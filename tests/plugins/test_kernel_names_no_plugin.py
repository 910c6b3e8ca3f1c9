"""The kernel and plugin host never name a built-in plugin in code.

What a plugin needs, its manifest declares (PROTOCOL.md §8); a third-party
plugin must be able to declare the same.  This scans every string literal,
attribute and variable name in kernel/ and plugin-host/ (comments and
docstrings are not code, and messages with spaces are help text: both are
skipped) for a built-in plugin's name, and
fails on any use not in the allowlist below, each entry with its reason.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("kernel", "plugin-host")
PLUGINS = sorted(tomllib.loads(p.read_text(encoding="utf-8"))["name"]
                 for p in (REPO / "plugins").rglob("plugin.toml"))

# Built-in plugins' short flags (``-w``): a kernel that knew one would know the plugin.
SHORTS = sorted({opt["short"] for p in (REPO / "plugins").rglob("plugin.toml")
                 for opt in tomllib.loads(p.read_text(encoding="utf-8")).get("options", [])
                 if opt.get("short")})
# Option names only a built-in installer uses; the kernel reads what the
# manifest declares ([needs] checkpoint_roots) instead.
OPTION_NAMES = ("server-root",)
# (file relative to the repo, name used) -> why the kernel may name it.
ALLOWED: dict[tuple[str, str], str] = {
    ("kernel/runtime/plugin_runtime.py", "standalone"):
        "DEFAULT_AUTHENTICATOR: Certbot's certonly uses standalone when no -a is given",
}


def _names_plugin(word: str) -> bool:
    """``nginx``, ``--nginx-server-root``, ``webroot_path``, ``dns-route53`` all count."""
    key = word.lower().replace("_", "-").lstrip("-")
    return any(key == p or key.startswith(p + "-") for p in PLUGINS)


def _names_plugin_literal(text: str) -> bool:
    """A string in code: a plugin's name, one of its short flags or a built-in option name."""
    key = text.lower().replace("_", "-").lstrip("-")
    return _names_plugin(text) or text in SHORTS or key in OPTION_NAMES


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def uses(path: Path) -> set[str]:
    """Every plugin-naming word a file's code uses (not its comments or docstrings)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    words: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            # A literal that is a name, flag or key ("nginx", "--webroot-path") is
            # code; one with spaces is a message to the user (help text).
            if not re.search(r"\s", node.value) and _names_plugin_literal(node.value):
                words.add(node.value)
        elif isinstance(node, ast.Attribute) and _names_plugin(node.attr):
            words.add(node.attr)
        elif isinstance(node, ast.Name) and _names_plugin(node.id):
            words.add(node.id)
    return words


def test_the_scan_sees_builtin_names() -> None:
    # Guard against a scan that finds nothing: these are the forms it must catch.
    assert {"nginx", "webroot", "null", "standalone", "manual", "apache"} <= set(PLUGINS)
    assert all(_names_plugin(w) for w in ("nginx", "--apache-server-root", "webroot_map",
                                          "dns-route53", "null"))
    assert not any(_names_plugin(w) for w in ("installer", "nullcontext", "manually", "dns"))
    assert "-w" in SHORTS
    assert all(_names_plugin_literal(w) for w in ("-w", "server-root", "server_root", "null"))
    assert not any(_names_plugin_literal(w) for w in ("-d", "server_root_option", "path"))


def test_the_scan_finds_a_planted_name(tmp_path: Path) -> None:
    # The kernel's old -w handling, as it was, is found in every form it took.
    planted = tmp_path / "planted.py"
    planted.write_text(
        'FALLBACK = "null"\n'
        'parser.add_argument("-w", "--webroot-path", dest="webroot_path")\n'
        'ordered = ns.webroot_map_ordered\n'
        'root = options["server-root"]\n'
        '"""A docstring naming webroot is prose."""\n', encoding="utf-8")
    assert uses(planted) == {"null", "-w", "--webroot-path", "webroot_path",
                             "webroot_map_ordered", "server-root"}


def test_kernel_and_plugin_host_name_no_builtin_plugin() -> None:
    found = {(str(f.relative_to(REPO)), w)
             for root in SOURCES for f in sorted((REPO / root).rglob("*.py")) for w in uses(f)}
    assert sorted(found - ALLOWED.keys()) == []
    # Stale allowlist entries would hide a regression at the same place later.
    assert sorted(ALLOWED.keys() - found) == []
