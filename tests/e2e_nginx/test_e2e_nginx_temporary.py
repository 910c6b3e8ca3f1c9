"""Issue 14, gap 4: the nginx authenticator's temporary challenge changes never outlive the run.

For each way a run can end (success, the CA refusing the challenge, the
plugin process dying, a kernel bug, Ctrl-C), the nginx configuration on
disk is byte-identical afterwards (the challenge's .inc files and include
lines gone), no temporary or unfinished checkpoint is left, and a later
``certkernel rollback`` reports no "interrupted run".
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from tests.infra.challenge_revert import (
    FAULT,
    MARK,
    assert_nothing_left,
    config_tree,
    interrupt_when_published,
    wrapped_ctl,
)
from tests.infra.nginx_site import SITE, Site, running_site
from tests.infra.pebble import Pebble


def _tree(site: Site) -> Callable[[], dict[str, bytes]]:
    """The server root without what nginx writes while running (logs, pid, temp folders)."""
    def runtime(rel: Path) -> bool:
        return rel.suffix in (".log", ".pid") or any(p.endswith("_temp") for p in rel.parts)
    return lambda: config_tree(site.root, runtime)


def _ctl(site: Site, action: str) -> Path:
    return wrapped_ctl(site.base / "nginx-ctl", str(shutil.which("nginx")), "-s reload",
                       site.root / MARK, action)


def test_success(site: Site) -> None:
    tree = _tree(site)
    before = tree()
    done = site.cli("certonly", "--nginx", "-d", "example.test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site.config_dir / "live" / "example.test" / "cert.pem").is_file()
    assert_nothing_left(site, tree, before)


def test_success_through_a_temporary_server_block(tmp_path: Path, pebble: Pebble) -> None:
    """No block listens on the http-01 port for the name: the plugin adds a temporary one."""
    other = "server {{\n    listen 127.0.0.1:{https_port};\n    server_name example.test;\n}}\n"
    with running_site(tmp_path, pebble, {"example.conf": other}) as site:
        tree = _tree(site)
        before = tree()
        done = site.cli("certonly", "--nginx", "-d", "example.test")
        assert done.returncode == 0, done.stdout + done.stderr
        assert_nothing_left(site, tree, before)


def test_ca_refuses_the_challenge(tmp_path: Path, pebble: Pebble) -> None:
    """The name resolves, for the CA, to an address nginx does not listen on."""
    name = f"refused-{os.getpid()}.example.test"
    with running_site(tmp_path, pebble, {"refused.conf": SITE.replace(
            "server_name example.test www.example.test;", f"server_name {name};")}) as site:
        tree = _tree(site)
        pebble.add_a(name, ["127.0.0.2"])
        try:
            before = tree()
            done = site.cli("certonly", "--nginx", "-d", name)
        finally:
            pebble.clear_a(name)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"Some challenges failed ({name})" in done.stderr, done.stderr
        assert not (site.config_dir / "live" / name).exists()
        assert_nothing_left(site, tree, before)


def test_plugin_process_dies_after_publishing(site: Site) -> None:
    """nginx's first reload SIGKILLs the plugin: the challenge is on disk, the process
    gone; cleanup runs in a fresh process, then the kernel checks what is left."""
    tree = _tree(site)
    before = tree()
    ctl = _ctl(site, "kill -9 $PPID; exit 1")
    done = site.cli("certonly", "--nginx", "-d", "example.test", "--nginx-ctl", str(ctl))
    assert (site.root / MARK).exists(), done.stdout + done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    assert not (site.config_dir / "live" / "example.test").exists()
    assert_nothing_left(site, tree, before)


def test_kernel_bug_after_publishing(site: Site) -> None:
    tree = _tree(site)
    before = tree()
    done = site.cli("certonly", "--nginx", "-d", "example.test",
                    wrapper=[sys.executable, str(FAULT), "answer"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "injected kernel bug" in done.stderr
    assert_nothing_left(site, tree, before)


def test_ctrl_c_while_the_challenge_is_published(site: Site) -> None:
    tree = _tree(site)
    before = tree()
    ctl = _ctl(site, "sleep 30")  # holds the plugin in perform, challenge written
    status, _out, err = interrupt_when_published(
        site, ["certonly", "--nginx", "-d", "example.test", "--nginx-ctl", str(ctl)],
        site.root / MARK)
    assert status == 130, err
    assert "Exiting due to user request." in err
    assert_nothing_left(site, tree, before)
