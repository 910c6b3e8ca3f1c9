"""The wheel and sdist carry the whole tree, and an installed wheel works on its own.

What an administrator checks after ``pip install certkernel``: the command is
there, it lists every built-in plugin (from the venv, not a source tree), a
plugin passes ``plugin-check``, and ``certonly --standalone`` gets a
certificate from a real Pebble.  The core install has no provider SDKs: a
plugin that needs one says which ``pip install`` adds it.
"""

from __future__ import annotations

import base64
import email.parser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from cryptography import x509

from tests.install.conftest import REPO, Dist, InstalledVenv

# The repository's layout (README "Layout"): folder -> path inside the wheel.
LAYOUT = {"kernel": "certkernel", "plugin-host": "certkernel/plugin_host",
          "plugins": "certkernel/plugins"}
# ... and of certkernel-sdk, the protocol and the Python SDK
SDK_LAYOUT = {"protocol": "certkernel/protocol", "sdk/python": "certkernel/sdk"}


def tree_files(layout: dict[str, str] = LAYOUT) -> dict[str, str]:
    """wheel path -> repository path, for every file the tree ships."""
    found: dict[str, str] = {}
    for folder, target in layout.items():
        base = REPO / folder
        for dirpath, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
            for name in files:
                if name.endswith((".pyc", ".pyo")) or name.startswith("."):
                    continue
                rel = (Path(dirpath) / name).relative_to(base).as_posix()
                found[f"{target}/{rel}"] = f"{folder}/{rel}"
    return found


def builtin_plugin_names() -> list[str]:
    return sorted(tomllib.loads(p.read_text())["name"]
                  for p in (REPO / "plugins").rglob("plugin.toml"))


def test_wheel_holds_every_module_and_data_file_of_the_tree(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
    missing = sorted(path for path in tree_files() if path not in names)
    assert missing == []
    # the files the issue names, spelled out
    for path in ("certkernel/conformance/__init__.py",
                 "certkernel/plugins/dns/route53/plugin.toml"):
        assert path in names
    # the protocol and the SDK are certkernel-sdk's; the namespace folder is nobody's
    assert not [n for n in names if n.startswith(("certkernel/protocol/", "certkernel/sdk/"))]
    assert "certkernel/__init__.py" not in names


def test_sdk_wheel_holds_the_protocol_and_the_sdk_only(dist: Dist) -> None:
    with zipfile.ZipFile(dist.sdk_wheel) as wheel:
        names = set(wheel.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(wheel.read(meta_name).decode())
    shipped = {n for n in names if ".dist-info/" not in n}
    assert shipped == set(tree_files(SDK_LAYOUT))
    assert {"certkernel/protocol/PROTOCOL.md", "certkernel/protocol/vectors/vectors.json",
            "certkernel/protocol/errors.py", "certkernel/sdk/server.py"} <= shipped
    assert meta["Name"] == "certkernel-sdk"
    assert [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r] == ["msgpack>=1.0"]


def test_certkernel_requires_the_sdk_of_this_tree(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        meta_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(wheel.read(meta_name).decode())
    with zipfile.ZipFile(dist.sdk_wheel) as wheel:
        sdk_meta_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        sdk_version = email.parser.Parser().parsestr(
            wheel.read(sdk_meta_name).decode())["Version"]
    required = [r for r in meta.get_all("Requires-Dist") if r.startswith("certkernel-sdk")]
    assert required == [f"certkernel-sdk~={sdk_version}"]
    # each distribution's version is the one its code reports
    from certkernel.sdk import __version__ as sdk_code_version
    from certkernel.version import __version__ as code_version

    assert (meta["Version"], sdk_version) == (code_version, sdk_code_version)
    changelog = (REPO / "packaging/certkernel-sdk/CHANGELOG.md").read_text()
    assert f"\n## {sdk_version}\n" in changelog


def test_sdist_holds_the_tree_the_license_and_the_build_files(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        names = {n.removeprefix(top + "/") for n in sdist.getnames()}
    missing = sorted(repo for repo in tree_files().values() if repo not in names)
    assert missing == []
    assert {"LICENSE", "README.md", "pyproject.toml", "setup.py"} <= names
    with tarfile.open(dist.sdk_sdist) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        sdk_names = {n.removeprefix(top + "/") for n in sdist.getnames()}
    # beside its setup.py, the SDK's folders are named protocol/ and sdk/ (the symlinks)
    wanted = set(tree_files({"protocol": "protocol", "sdk/python": "sdk"}))
    assert sorted(wanted - sdk_names) == []
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "setup.py"} <= sdk_names


def test_license_and_its_metadata(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        meta_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(wheel.read(meta_name).decode())
        license_text = wheel.read(meta_name.replace("METADATA", "licenses/LICENSE")).decode()
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert license_text == (REPO / "LICENSE").read_text()


def test_core_requirements_leave_provider_sdks_to_extras(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        meta_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(wheel.read(meta_name).decode())
    requires = meta.get_all("Requires-Dist")
    core = [r for r in requires if "extra ==" not in r]
    assert not [r for r in core if re.match(r"(boto3|botocore|dns-lexicon)\b", r)]
    extras = set(meta.get_all("Provides-Extra"))
    assert {"route53", "lexicon", "all"} <= extras
    assert any(r.startswith("boto3") and 'extra == "route53"' in r for r in requires)
    assert any(r.startswith("dns-lexicon") and 'extra == "lexicon"' in r for r in requires)


def test_installed_lists_every_builtin_plugin_from_the_venv(installed: InstalledVenv,
                                                             tmp_path: Path) -> None:
    proc = installed.run("plugins", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = sorted(re.findall(r"^\* (\S+)$", proc.stdout, re.M))
    assert listed == builtin_plugin_names()
    manifests = re.findall(r"^Manifest: (\S+)", proc.stdout, re.M)
    assert len(manifests) == len(listed)
    assert all(m.startswith(str(installed.root)) and "site-packages/certkernel/plugins" in m
               for m in manifests), manifests


def test_installed_plugin_check_passes(installed: InstalledVenv, tmp_path: Path) -> None:
    proc = installed.run("plugin-check", "null", "-n", "--config-dir", str(tmp_path / "c"),
                         "--work-dir", str(tmp_path / "w"), "--logs-dir", str(tmp_path / "l"),
                         cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "plugin null conforms" in proc.stdout
    assert re.search(r"^PASS  handshake\b", proc.stdout, re.M)
    assert not re.search(r"^FAIL ", proc.stdout, re.M)


def test_installed_certonly_standalone_gets_a_certificate(installed: InstalledVenv, pebble,
                                                          tmp_path: Path) -> None:
    proc = installed.run(
        "certonly", "--standalone", "-d", "wheel.example", "-n", "--agree-tos",
        "-m", "ops@example.org", "--server", pebble.directory_url,
        "--ca-bundle", pebble.ca_bundle, "--http-01-port", str(pebble.http01_port),
        "--http-01-address", "127.0.0.1", "--config-dir", str(tmp_path / "config"),
        "--work-dir", str(tmp_path / "work"), "--logs-dir", str(tmp_path / "logs"),
        cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cert = x509.load_pem_x509_certificate(
        (tmp_path / "config/live/wheel.example/cert.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["wheel.example"]


@pytest.mark.parametrize(("plugin", "extra", "module"),
                         [("dns-cloudflare", "lexicon", "lexicon"),
                          ("dns-route53", "route53", "boto3")])
def test_missing_extra_names_the_pip_command(installed: InstalledVenv, tmp_path: Path,
                                             plugin: str, extra: str, module: str) -> None:
    proc = installed.run(
        "certonly", f"--{plugin}", "-d", "x.example", "-n", "--agree-tos",
        "--register-unsafely-without-email", "--server", "https://127.0.0.1:9/dir",
        "--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"),
        "--logs-dir", str(tmp_path / "l"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    hint = f"{installed.python} -m pip install 'certkernel[{extra}]'"
    lines = [line for line in proc.stderr.splitlines() if hint in line]
    assert len(lines) == 1, proc.stderr
    assert f"{plugin}: needs the '{extra}' extra ({module} is not installed): run {hint}" \
        in lines[0], lines[0]


def test_committed_man_page_and_completions_match_the_parser() -> None:
    """share/ (man page, completions) is generated from the parser; a new flag without regenerating fails here."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gen-manual.py"), "--check"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


def test_installed_venv_has_man_page_and_completions(installed: InstalledVenv,
                                                      tmp_path: Path) -> None:
    man = installed.root / "share/man/man1/certkernel.1"
    bash = installed.root / "share/bash-completion/completions/certkernel"
    zsh = installed.root / "share/zsh/site-functions/_certkernel"
    assert man.read_text() == (REPO / "share/man/man1/certkernel.1").read_text()
    assert zsh.read_text().startswith("#compdef certkernel")
    if shutil.which("man"):
        # man finds pages in ../share/man of every PATH entry: the venv's bin/ is enough
        found = subprocess.run(["man", "-w", "certkernel"], capture_output=True, text=True,
                               timeout=60, env=installed.env(), cwd=tmp_path, check=False)
        assert found.stdout.strip() == str(man), found.stderr
    script = (f'source {shlex.quote(str(bash))}; COMP_WORDS=(certkernel sched); COMP_CWORD=1; '
              '_shtab_certkernel; echo "${COMPREPLY[@]}"; '
              'COMP_WORDS=(certkernel renew --metrics); COMP_CWORD=2; _shtab_certkernel; '
              'echo "${COMPREPLY[@]}"')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                         check=True).stdout.splitlines()
    assert out == ["schedule", "--metrics-file"]


def test_plugins_prepare_shows_which_extras_are_missing(installed: InstalledVenv,
                                                        tmp_path: Path) -> None:
    proc = installed.run("plugins", "--prepare", "--authenticators", "--json", "-n",
                         "--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"),
                         "--logs-dir", str(tmp_path / "l"), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    probes = {p["name"]: p.get("probe", []) for p in json.loads(proc.stdout)["plugins"]}
    for plugin, extra in (("dns-cloudflare", "lexicon"), ("dns-ovh", "lexicon"),
                          ("dns-route53", "route53")):
        assert any(line.startswith(f"Prep: error: {plugin}: needs the '{extra}' extra")
                   for line in probes[plugin]), probes[plugin]
    assert "Prep: True" in probes["standalone"]


def test_fleet_mode_without_its_extra_says_which_pip_line_adds_it(installed: InstalledVenv,
                                                                  tmp_path: Path) -> None:
    key = tmp_path / "fleet.key"
    key.write_text(base64.b64encode(b"k" * 32).decode() + "\n")
    key.chmod(0o600)
    proc = installed.run("store", "status", "--store", "postgresql://web1@127.0.0.1:1/fleet",
                         "--store-key-file", str(key), "-n", "--config-dir",
                         str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"),
                         "--logs-dir", str(tmp_path / "l"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (
        "--store needs the 'fleet' extra (psycopg is not installed): run "
        f"{installed.python} -m pip install 'certkernel[fleet]'")
