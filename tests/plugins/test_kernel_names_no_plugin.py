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

_WEBROOT = ("PENDING (issue 16 item 2, not done this round): Certbot's -w/-d pairing and "
            "its renewal-conf keys webroot_path / [[webroot_map]] are still kernel code "
            "instead of a generic per-domain manifest option")
# (file relative to the repo, name used) -> why the kernel may name it.
ALLOWED: dict[tuple[str, str], str] = {
    ("kernel/plugin_runtime.py", "standalone"):
        "DEFAULT_AUTHENTICATOR: Certbot's certonly uses standalone when no -a is given",
    ("kernel/plugin_runtime.py", "null"):
        "FALLBACK_INSTALLER: run with only -a keeps the certificate where it is, as in "
        "Certbot; what null does is its manifest's [needs] changes_nothing",
    **{(f, n): _WEBROOT for f, n in [
        ("kernel/cli.py", "webroot"), ("kernel/cli.py", "webroot_path"),
        ("kernel/cli.py", "webroot_map_ordered"),
        ("kernel/cli_flags.py", "webroot"), ("kernel/cli_flags.py", "webroot_path"),
        ("kernel/cli_flags.py", "webroot_map"), ("kernel/cli_flags.py", "WEBROOT_PATH"),
        ("kernel/cli_flags.py", "--webroot-path"), ("kernel/cli_flags.py", "--webroot-map"),
        ("kernel/cli_help.py", "webroot"), ("kernel/cli_help.py", "--webroot-path"),
        ("kernel/config.py", "webroot_path"), ("kernel/config.py", "webroot_map"),
        ("kernel/config.py", "webroot_map_ordered"),
        ("kernel/conformance/role_checks.py", "webroot"),
        ("kernel/conformance/role_checks.py", "webroot-path"),
    ]},
}


def _names_plugin(word: str) -> bool:
    """``nginx``, ``--nginx-server-root``, ``webroot_path``, ``dns-route53`` all count."""
    key = word.lower().replace("_", "-").lstrip("-")
    return any(key == p or key.startswith(p + "-") for p in PLUGINS)


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
            if not re.search(r"\s", node.value) and _names_plugin(node.value):
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


def test_kernel_and_plugin_host_name_no_builtin_plugin() -> None:
    found = {(str(f.relative_to(REPO)), w)
             for root in SOURCES for f in sorted((REPO / root).rglob("*.py")) for w in uses(f)}
    assert sorted(found - ALLOWED.keys()) == []
    # Stale allowlist entries would hide a regression at the same place later.
    assert sorted(ALLOWED.keys() - found) == []
