"""plugin-check's scratch round trips: the checks change copies, never the user's files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_plugin_check_cli import BROKEN, lines, plugin_check

NGINX_CONF = """events {}
http {
    server {
        listen 80;
        server_name shop.example.org;
        root html;
    }
}
"""


def _tree(root: Path, files: dict[str, str]) -> dict[str, bytes]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return {name: (root / name).read_bytes() for name in files}


def test_nginx_deploy_save_rollback_on_a_copy(tmp_path: Path) -> None:
    root = tmp_path / "nginx"
    before = _tree(root, {"nginx.conf": NGINX_CONF})
    proc = plugin_check(tmp_path, "nginx", "--nginx-server-root", str(root))
    status, detail = lines(proc.stdout)["deploy-save-rollback"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert status == "PASS", detail
    assert "deploy_cert {domain: shop.example.org}" in detail
    assert "save changed 1 file(s) (nginx.conf); rollback restored every byte" in detail
    assert {"nginx.conf": (root / "nginx.conf").read_bytes()} == before
    assert sorted(os.listdir(root)) == ["nginx.conf"]


def test_copy_that_points_back_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "nginx"
    conf = NGINX_CONF.replace("http {", f"http {{\n    include {root}/extra.conf;")
    before = _tree(root, {"nginx.conf": conf, "extra.conf": "# nothing\n"})
    proc = plugin_check(tmp_path, "nginx", "--nginx-server-root", str(root))
    status, detail = lines(proc.stdout)["deploy-save-rollback"]
    assert status == "SKIP"
    assert f"a copy of {root} is not safe to change: nginx.conf:3 (include {root}/" in detail
    assert "names the original by absolute path" in detail
    assert {n: (root / n).read_bytes() for n in before} == before


def test_installer_round_trip_needs_a_root_to_copy(tmp_path: Path) -> None:
    proc = plugin_check(tmp_path, "nginx")
    status, detail = lines(proc.stdout)["deploy-save-rollback"]
    assert status == "SKIP"
    assert "pass --nginx-server-root DIR" in detail


def test_changes_without_checkpoints_fail_the_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "site"
    before = _tree(root, {"site.conf": "server_name broken.example.org;\n"})
    env = {**os.environ, "CERTKERNEL_PLUGIN_PATH": str(BROKEN)}
    argv = [sys.executable, "-m", "certkernel", "plugin-check", "no-checkpoint",
            "--no-checkpoint-server-root", str(root), "-n",
            "--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"),
            "--logs-dir", str(tmp_path / "l")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)
    report = lines(proc.stdout)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    status, detail = report["deploy-save-rollback"]
    assert status == "FAIL"
    assert "after rolling back the checkpoint 1 still differ (site.conf)" in detail
    assert "register files with checkpoint/add" in detail and "[PROTOCOL.md §5.5]" in detail
    assert [n for n, (s, _) in report.items() if s == "FAIL"] == ["deploy-save-rollback"]
    assert (root / "site.conf").read_bytes() == before["site.conf"]


def test_webroot_given_by_the_user_is_used_and_left_clean(tmp_path: Path) -> None:
    webroot = tmp_path / "www"
    webroot.mkdir()
    proc = plugin_check(tmp_path, "webroot", "-w", str(webroot))
    status, detail = lines(proc.stdout)["perform-cleanup"]
    assert status == "PASS"
    assert f"http-01 published and removed with webroot {webroot} (--webroot-path)" in detail
    assert list(webroot.iterdir()) == []
