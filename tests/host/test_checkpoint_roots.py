"""Checkpoint roots: declared in the manifest, resolved by the kernel, enforced by KernelServices."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from certkernel import errors
from certkernel.checkpoints.reverter import Reverter
from certkernel.plugin_host.manifest import load_manifest, parse_manifest
from certkernel.plugin_host.roots import check_roots, resolve_roots
from certkernel.plugin_host.services import KernelServices

REPO = Path(__file__).resolve().parents[2]

BASE = {
    "name": "demo", "roles": ["installer"], "command": ["x"],
    "options": [{"name": "server-root", "type": "path", "default": ""},
                {"name": "vhosts", "type": "path", "default": ""},
                {"name": "level", "type": "int", "default": 1}],
}


def demo(needs: dict[str, Any]) -> Any:
    return parse_manifest({**BASE, "needs": needs}, Path("/x/plugin.toml"))


def test_builtin_installers_declare_their_server_roots() -> None:
    nginx = load_manifest(REPO / "plugins" / "nginx")
    apache = load_manifest(REPO / "plugins" / "apache")
    assert [(r.option, r.defaults) for r in nginx.checkpoint_roots] == [
        ("server-root", ("/etc/nginx", "/usr/local/etc/nginx"))]
    assert [r.option for r in apache.checkpoint_roots] == [
        "server-root", "vhost-root", "challenge-location"]
    assert apache.checkpoint_roots[0].defaults == ("/etc/apache2", "/etc/httpd")
    assert nginx.server_root_option == apache.server_root_option == "server-root"
    for name in ("webroot", "standalone", "manual", "null"):
        assert load_manifest(REPO / "plugins" / name).checkpoint_roots == ()


@pytest.mark.parametrize(("needs", "message"), [
    ({"checkpoint_roots": ["nope"]}, "names 'nope', which is not a path option"),
    ({"checkpoint_roots": ["level"]}, "names 'level', which is not a path option"),
    ({"checkpoint_roots": "server-root"}, "must be a list of option names"),
    ({"checkpoint_roots": ["server-root"],
      "checkpoint_root_defaults": {"server-root": ["etc/x"]}}, "must be a list of absolute paths"),
    ({"checkpoint_roots": ["server-root"],
      "checkpoint_root_defaults": {"server-root": ["/"]}}, "must be a list of absolute paths"),
    ({"checkpoint_roots": ["server-root"],
      "checkpoint_root_defaults": {"vhosts": ["/srv"]}}, "names vhosts, which"),
    ({"checkpoint_roots": ["server-root"], "server_root_option": "server-root"}, "both"),
])
def test_bad_declarations_are_one_clear_error(needs: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=message):
        demo(needs)


def test_the_older_single_root_spelling_still_reads() -> None:
    assert demo({"server_root_option": "server-root"}).server_root_option == "server-root"


def test_resolution_option_then_first_existing_default_then_relative(tmp_path: Path) -> None:
    present = tmp_path / "present"
    present.mkdir()
    manifest = demo({"checkpoint_roots": ["server-root", "vhosts"],
                     "checkpoint_root_defaults": {"server-root": [str(tmp_path / "absent"),
                                                                  str(present)]}})
    assert resolve_roots(manifest, {}) == [str(present)]
    assert resolve_roots(manifest, {"server-root": str(tmp_path)}) == [str(tmp_path)]
    # relative: inside the first root, so nothing new; absolute elsewhere: a second root
    assert resolve_roots(manifest, {"vhosts": "sites"}) == [str(present)]
    assert resolve_roots(manifest, {"vhosts": "/srv/vhosts"}) == [str(present), "/srv/vhosts"]


def test_a_root_given_through_a_symlink_is_resolved_once(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    manifest = demo({"checkpoint_roots": ["server-root"]})
    assert resolve_roots(manifest, {"server-root": str(tmp_path / "link")}) == [
        str(tmp_path / "real")]
    with pytest.raises(errors.ConfigurationError, match="whole file system"):
        resolve_roots(manifest, {"server-root": "/"})


def test_roots_overlapping_the_kernel_folders_are_refused(tmp_path: Path) -> None:
    manifest = demo({"checkpoint_roots": ["server-root"]})
    work = tmp_path / "work"
    for root in (tmp_path, work, work / "plugins" / "demo"):
        with pytest.raises(errors.ConfigurationError, match=f"{root} overlaps --work-dir"):
            check_roots(manifest, [str(root)], {"--work-dir": str(work)})
    check_roots(manifest, [str(tmp_path / "nginx")], {"--work-dir": str(work)})


def _call(services: KernelServices, method: str, params: dict[str, Any]) -> Exception:
    with pytest.raises(errors.CallError) as info:
        services.handle(method, params)
    return info.value


def test_a_rootless_plugin_gets_every_checkpoint_call_refused(tmp_path: Path) -> None:
    with Reverter(str(tmp_path / "work")) as reverter:
        services = KernelServices("demo", checkpoints=reverter, roots=[])
        for method, params in [("checkpoint/add", {"files": ["/etc/passwd"]}),
                               ("checkpoint/register_new", {"files": ["/etc/x"]}),
                               ("checkpoint/finalize", {"title": "t"}),
                               ("checkpoint/revert_temporary", {}),
                               ("checkpoint/rollback", {"count": 1})]:
            exc = _call(services, method, params)
            assert isinstance(exc, errors.NotSupportedError)
            assert str(exc).startswith(f"demo: {method} refused: the plugin's manifest declares "
                                       "no checkpoint roots")
            assert exc.data == {"manifest_field": "[needs] checkpoint_roots"}
    assert not (tmp_path / "work" / "IN_PROGRESS").exists()


def test_paths_are_checked_as_strings_then_opened_beneath_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "site.conf").write_text("x\n")
    os.symlink("/etc", root / "etc")
    with Reverter(str(tmp_path / "work")) as reverter:
        services = KernelServices("demo", checkpoints=reverter, roots=[str(root)])
        exc = _call(services, "checkpoint/add", {"files": ["/etc/passwd"]})
        assert isinstance(exc, errors.InvalidParams) and "outside the roots" in str(exc)
        exc = _call(services, "checkpoint/add", {"files": [f"{root}/../root/site.conf"]})
        assert isinstance(exc, errors.InvalidParams) and "normalized" in str(exc)
        exc = _call(services, "checkpoint/add", {"files": [str(root / "etc" / "passwd")]})
        assert isinstance(exc, errors.InvalidParams) and "symbolic link" in str(exc)
        assert services.handle("checkpoint/add", {"files": [str(root / "site.conf")]}) == {}
