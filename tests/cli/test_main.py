"""The real ``certkernel`` console script, run as a user runs it."""

from __future__ import annotations

import ast
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import certkernel.commands as certkernel_commands
from certkernel.cmdline.verbs import REGISTRY
from tests.cli.conftest import Env

HEAVY = ("acme", "josepy", "cryptography", "requests", "configobj")


def imported_modules(stderr: str) -> set[str]:
    names = set()
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if m:
            names.add(m.group(1).split(".")[0])
    return names


@pytest.mark.parametrize("args", [["--help"], ["--help", "all"], ["plugins"]])
def test_help_and_plugins_never_import_the_acme_stack(cli_env: Env, args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "certkernel", *args,
         *(cli_env.dirs if args == ["plugins"] else [])],
        capture_output=True, text=True, env=cli_env.env, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = imported_modules(proc.stderr)
    assert "certkernel" in loaded  # the measurement itself works
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_version_and_module_entry(cli_env: Env) -> None:
    from certkernel.version import __version__

    result = cli_env.run("--version", module=True)
    assert (result.returncode, result.stdout.strip()) == (0, f"certkernel {__version__}")


def test_help_topics(cli_env: Env, make_plugin: Callable[..., Path]) -> None:
    make_plugin(cli_env.plugins, "probe", options='[[options]]\nname = "port"\ntype = "int"\n'
                'default = 8080\nhelp = "the probe port"\n')
    short = cli_env.run("--help")
    assert short.returncode == 0 and "certonly" in short.stdout and "--probe" in short.stdout
    everything = cli_env.run("--help", "all").stdout
    for flag in ("--cert-name", "--preferred-chain", "--keep-until-expiring", "--http-01-port",
                 "--webroot-map", "--eab-hmac-key", "--no-random-sleep-on-renew", "--reason",
                 "--checkpoints", "--dns-rfc2136-credentials", "--probe-port", "--ca-bundle"):
        assert flag in everything, flag
    plugin = cli_env.run("--help", "probe").stdout
    assert "--probe-port PROBE_PORT" in plugin and "(default: 8080)" in plugin
    assert "--csr CSR" in cli_env.run("certonly", "--help").stdout
    bad = cli_env.run("--help", "nosuchtopic")
    assert bad.returncode == 1 and "no help topic 'nosuchtopic'" in bad.stderr


def test_help_shows_where_defaults_come_from(cli_env: Env) -> None:
    ini = Path(cli_env.env["XDG_CONFIG_HOME"]) / "letsencrypt" / "cli.ini"
    ini.parent.mkdir(parents=True)
    ini.write_text("# site defaults\nrsa-key-size = 4096\n")
    text = cli_env.run("--help", "security").stdout
    assert re.search(r"Size of the RSA key\.\s+\(default: 4096; set in\s+" + re.escape(str(ini)) + ":2", text)
    cli_env.env["REQUESTS_CA_BUNDLE"] = "/etc/ssl/private-ca.pem"
    text = cli_env.run("--help", "testing").stdout
    assert re.search(r"/etc/ssl/private-ca\.pem;\s+set\s+in\s+environment\s+REQUESTS_CA_BUNDLE", text)


def test_bad_input_is_one_line(cli_env: Env, tmp_path: Path) -> None:
    result = cli_env.run("certonly", "--frobnicate")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--frobnicate" in result.stderr
    ini = tmp_path / "bad.ini"
    ini.write_text("agree-tos = true\nrsa-key-sise = 4096\n")
    result = cli_env.run("-c", str(ini), "plugins")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == f"{ini}:2: unknown option 'rsa-key-sise' (not a certkernel flag)"


def test_every_registered_verb_is_dispatchable_and_listed(cli_env: Env, tmp_path: Path) -> None:
    """Each verb (and alias) on a command line parses to its registry entry, whose ``run``
    main calls; ``--help`` lists every verb."""
    from certkernel.cmdline.cli import parse
    from certkernel.config import Config

    for verb in REGISTRY.values():
        assert verb.manifests_for([verb.name], {}) == {}, verb.name
        run = verb.load()
        assert callable(run) and run.__module__ == verb.module, verb.name
        for word in (verb.name, *verb.aliases):
            argv = [word, "install"] if verb.takes_args else [word]
            parsed = parse(argv, {}, {"HOME": str(tmp_path)})
            assert isinstance(parsed, Config) and parsed.verb == verb.name, word
    listed = cli_env.run("--help", "commands")
    assert listed.returncode == 0, listed.stderr
    missing = [name for name in REGISTRY if name not in listed.stdout]
    assert missing == [], f"verbs missing from --help commands: {missing}"


def imported_names(source: str, package: str) -> set[str]:
    """Every module (and ``module.name``) that ``source``, a module of ``package``, imports,
    at the top or inside a function, relative imports resolved."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
            module = ".".join([*base, node.module] if node.level and node.module
                              else base if node.level else [node.module or ""])
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    return found


def _verb_modules(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.startswith("certkernel.commands."))


def test_the_import_walk_sees_every_form() -> None:
    """The two tests below would prove nothing if these forms slipped through."""
    source = ("import certkernel.commands.run\n"
              "from certkernel.commands import certonly\n"
              "def f():\n    from .renew import run\n    from . import delete\n")
    assert _verb_modules(imported_names(source, "certkernel.commands")) == [
        "certkernel.commands.certonly", "certkernel.commands.delete",
        "certkernel.commands.renew", "certkernel.commands.renew.run",
        "certkernel.commands.run"]


def test_no_verb_module_imports_another() -> None:
    """Shared flows live in flat kernel modules; a verb module never imports a verb module
    (at the top or inside a function)."""
    commands = Path(next(iter(certkernel_commands.__path__)))
    verbs = {p.stem for p in commands.glob("*.py") if p.stem != "__init__"}
    assert {v.module.rsplit(".", 1)[1] for v in REGISTRY.values()} == verbs
    found = [f"{path.name} imports {n}" for path in sorted(commands.glob("*.py"))
             for n in _verb_modules(imported_names(path.read_text(), "certkernel.commands"))]
    assert found == []


def test_only_the_registry_names_verb_modules() -> None:
    """Dispatch goes through certkernel.cmdline.verbs: no other kernel module imports a verb module,
    so a verb is added or moved in one table."""
    kernel = Path(next(iter(certkernel_commands.__path__))).parent
    found = []
    for path in sorted(kernel.rglob("*.py")):
        if path.parent.name == "commands" or "__pycache__" in path.parts:
            continue
        package = ".".join(["certkernel", *path.relative_to(kernel).parent.parts])
        found += [f"{path.relative_to(kernel)} imports {n}"
                  for n in _verb_modules(imported_names(path.read_text(), package))]
    assert found == []
    assert {v.module for v in REGISTRY.values()} == {
        f"certkernel.commands.{p.stem}" for p in (kernel / "commands").glob("*.py")
        if p.stem != "__init__"}


def test_plugins_listing_and_filters(cli_env: Env, make_plugin: Callable[..., Path]) -> None:
    make_plugin(cli_env.plugins, "probe-auth", description="Probe authenticator")
    make_plugin(cli_env.plugins, "probe-inst", roles=("installer",))
    broken = cli_env.plugins / "broken"
    broken.mkdir()
    (broken / "plugin.toml").write_text("name = 'broken'\n")
    result = cli_env.run("plugins", *cli_env.dirs)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "* probe-auth\nDescription: Probe authenticator\nInterfaces: Authenticator, Plugin" in out
    assert "* probe-inst" in out and "* dns-rfc2136" in out
    assert "broken manifests" in out and str(broken / "plugin.toml") in out
    auth_only = cli_env.run("plugins", "--authenticators", *cli_env.dirs).stdout
    assert "* probe-auth" in auth_only and "* probe-inst" not in auth_only
    inst_only = cli_env.run("plugins", "--installers", *cli_env.dirs).stdout
    assert "* probe-inst" in inst_only and "* probe-auth" not in inst_only


def test_plugins_init_and_prepare_spawn_real_plugins(cli_env: Env, make_plugin: Callable[..., Path]) -> None:
    make_plugin(cli_env.plugins, "probe-ok", mode="ok")
    make_plugin(cli_env.plugins, "probe-bad", mode="misconfigured")
    make_plugin(cli_env.plugins, "probe-gone", mode="missing")
    result = cli_env.run("plugins", "--prepare", "--authenticators", *cli_env.dirs)
    assert result.returncode == 0, result.stderr
    blocks = {b.split("\n")[0]: b for b in result.stdout.split("\n\n")}
    ok = next(b for k, b in blocks.items() if "* probe-ok" in k)
    assert "Initialized: yes (plugin version 2.5.0)" in ok and "Prep: True" in ok
    bad = next(b for k, b in blocks.items() if "* probe-bad" in k)
    assert "Prep: error: probe-bad: probe config is broken: see /etc/probe.conf" in bad
    assert "probe-gone" not in result.stdout
    init = cli_env.run("plugins", "--init", "--authenticators", *cli_env.dirs).stdout
    assert "Prep:" not in init and init.count("Initialized: yes") >= 3


def test_plugins_init_shows_more_info_when_the_plugin_has_it(
    cli_env: Env, make_plugin: Callable[..., Path]
) -> None:
    """more_info is optional (PROTOCOL.md §4): shown by --init, absent when not implemented."""
    make_plugin(cli_env.plugins, "probe-ok", mode="ok")
    make_plugin(cli_env.plugins, "probe-quiet", mode="no-info")
    result = cli_env.run("plugins", "--init", "--authenticators", *cli_env.dirs)
    assert result.returncode == 0, result.stderr
    blocks = {b.split("\n")[0]: b for b in result.stdout.split("\n\n")}
    ok = next(b for k, b in blocks.items() if "* probe-ok" in k)
    # The terminal gets the text cleaned: no escape sequence, one line.
    assert "More info: Probe probe-ok: a test plugin" in ok.splitlines()
    quiet = next(b for k, b in blocks.items() if "* probe-quiet" in k)
    assert "Initialized: yes (plugin version 2.5.0)" in quiet
    assert "More info" not in quiet
    listing = cli_env.run("plugins", "--authenticators", *cli_env.dirs).stdout
    assert "More info" not in listing  # without --init nothing is started


def test_log_file_written_and_secrets_kept_out(cli_env: Env) -> None:
    secret = "EABhmacSECRETvalue0123"
    result = cli_env.run("plugins", "-v", "--eab-kid", "kid-1", "--eab-hmac-key", secret,
                         *cli_env.dirs)
    assert result.returncode == 0, result.stderr
    log = cli_env.root / "logs" / "letsencrypt.log"
    text = log.read_text()
    assert "Arguments:" in text and "kid-1" in text
    assert secret not in text and secret not in result.stderr
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_plugins_works_without_a_writable_logs_dir(cli_env: Env) -> None:
    blocker = cli_env.root / "not-a-dir"
    blocker.write_text("")
    result = cli_env.run("plugins", "--logs-dir", str(blocker / "logs"))
    assert result.returncode == 0 and "* dns-rfc2136" in result.stdout
