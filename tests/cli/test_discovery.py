"""Discovery: built-ins, plugin dirs, XDG dir, entry points; first wins; broken ones reported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from certkernel.plugin_host.discovery import discover, discover_all


def test_plugin_path_and_builtins(tmp_path: Path, make_plugin: Callable[..., Path]) -> None:
    make_plugin(tmp_path / "a", "probe-one")
    make_plugin(tmp_path / "b", "probe-two", roles=("installer",))
    env = {"CERTKERNEL_PLUGIN_PATH": f"{tmp_path / 'a'}:{tmp_path / 'b'}",
           "XDG_DATA_HOME": str(tmp_path / "nodata")}
    found = discover(env=env)
    assert found["probe-one"].origin == str(tmp_path / "a")
    assert found["probe-two"].roles == ("installer",)
    assert found["dns-rfc2136"].origin == "builtin"


def test_duplicate_first_wins_with_warning(
    tmp_path: Path, make_plugin: Callable[..., Path], caplog: object
) -> None:
    make_plugin(tmp_path / "a", "probe", description="first")
    make_plugin(tmp_path / "b", "probe", description="second")
    # a folder may not shadow a built-in either
    make_plugin(tmp_path / "b", "dns-rfc2136", description="impostor")
    env = {"CERTKERNEL_PLUGIN_PATH": f"{tmp_path / 'a'}:{tmp_path / 'b'}",
           "XDG_DATA_HOME": str(tmp_path / "nodata")}
    result = discover_all(env=env)
    assert result.manifests["probe"].description == "first"
    assert result.manifests["dns-rfc2136"].description != "impostor"
    dup_names = sorted(name for name, _first, _dup in result.duplicates)
    assert dup_names == ["dns-rfc2136", "probe"]
    import logging

    with caplog.at_level(logging.WARNING):  # type: ignore[attr-defined]
        discover(env=env)
    assert "already provides it" in caplog.text  # type: ignore[attr-defined]


def test_broken_manifest_is_a_problem_not_a_crash(tmp_path: Path, make_plugin: Callable[..., Path]) -> None:
    make_plugin(tmp_path, "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "plugin.toml").write_text("name = 'bad'\nroles = [\n")
    result = discover_all(env={"CERTKERNEL_PLUGIN_PATH": str(tmp_path)})
    assert "good" in result.manifests
    assert [p for p, _m in result.problems] == [(bad / "plugin.toml").resolve()]
    assert "invalid TOML" in result.problems[0][1]


def test_xdg_data_dir_and_extra_dirs(tmp_path: Path, make_plugin: Callable[..., Path]) -> None:
    make_plugin(tmp_path / "xdg" / "certkernel" / "plugins", "probe-user")
    make_plugin(tmp_path / "extra", "probe-extra")
    found = discover([tmp_path / "extra"], env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert "probe-user" in found and "probe-extra" in found


def test_entry_point_group(tmp_path: Path, make_plugin: Callable[..., Path]) -> None:
    """A pip-installed plugin registers a folder or a package in certkernel.plugins."""
    site = tmp_path / "site"
    folder = make_plugin(tmp_path / "shipped", "probe-ep")
    pkg = site / "probe_pkg"
    make_plugin(site, "probe_pkg")  # folder with plugin.toml named like the package
    (pkg / "plugin.toml").write_text(
        (pkg / "plugin.toml").read_text().replace('name = "probe_pkg"', 'name = "probe-pkg"'))
    (pkg / "__init__.py").write_text("")
    dist = site / "probe_ep-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(textwrap.dedent(f"""\
        [console_scripts]
        x = y:z

        [certkernel.plugins]
        probe-ep = {folder}
        probe-pkg = probe_pkg
        """))
    code = ("from certkernel.plugin_host.discovery import discover; "
            "m = discover(env={}); print(m['probe-ep'].origin); print(m['probe-pkg'].path)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "entry point" in lines[0] and "entry_points.txt" in lines[0]
    assert lines[1] == str(pkg.resolve())


def _discovered_paths(site: Path, cwd: Path) -> dict[str, str]:
    """name -> manifest path, as discovery in a fresh interpreter run from ``cwd`` sees them."""
    code = ("import json; from certkernel.plugin_host.discovery import discover; "
            "print(json.dumps({n: str(m.path) for n, m in discover(env={}).items()}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.returncode == 0, out.stderr
    import json

    found: dict[str, str] = json.loads(out.stdout.splitlines()[-1])
    return found


def test_entry_point_name_never_resolves_against_the_working_directory(
        tmp_path: Path, make_plugin: Callable[..., Path]) -> None:
    """Attack: an installed entry point names package ``probe_gone`` (since removed);
    whoever controls the folder certkernel runs in plants ``./probe_gone/plugin.toml``."""
    site = tmp_path / "site"
    dist = site / "probe_gone-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "entry_points.txt").write_text("[certkernel.plugins]\nprobe-gone = probe_gone\n")
    cwd = tmp_path / "cwd"
    planted = make_plugin(cwd, "probe_gone")
    (planted / "plugin.toml").write_text(
        (planted / "plugin.toml").read_text().replace('name = "probe_gone"', 'name = "planted"'))
    found = _discovered_paths(site, cwd)
    assert "planted" not in found
    assert not [p for p in found.values() if p.startswith(str(cwd))]


def test_distribution_metadata_in_the_working_directory_is_not_an_entry_point(
        tmp_path: Path, make_plugin: Callable[..., Path]) -> None:
    """Attack: ``python -c``/``-m`` put the working directory on sys.path as ''; a planted
    ``.dist-info`` there must not register a plugin (nor a package beside it)."""
    site = tmp_path / "site"
    site.mkdir()
    cwd = tmp_path / "cwd"
    planted = make_plugin(cwd, "planted_pkg")
    (planted / "plugin.toml").write_text(
        (planted / "plugin.toml").read_text().replace('name = "planted_pkg"', 'name = "planted"'))
    (planted / "__init__.py").write_text("")
    dist = cwd / "planted-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(
        "[certkernel.plugins]\nplanted = planted_pkg\nplanted-dir = ./planted_pkg\n")
    found = _discovered_paths(site, cwd)
    assert "planted" not in found
    assert not [p for p in found.values() if p.startswith(str(cwd))]


def test_entry_point_package_is_found_on_an_absolute_path_entry(
        tmp_path: Path, make_plugin: Callable[..., Path]) -> None:
    """The legitimate case beside the attacks: the package sits in site-packages."""
    site = tmp_path / "site"
    real = make_plugin(site, "probe_real")
    (real / "plugin.toml").write_text(
        (real / "plugin.toml").read_text().replace('name = "probe_real"', 'name = "probe-real"'))
    (real / "__init__.py").write_text("")
    dist = site / "probe_real-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text("[certkernel.plugins]\nprobe-real = probe_real\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    found = _discovered_paths(site, cwd)
    assert found["probe-real"] == str(real.resolve())
