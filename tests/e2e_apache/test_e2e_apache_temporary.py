"""Issue 14, gap 4: the apache authenticator's temporary challenge changes never outlive the run.

The apache authenticator adds an include to every vhost serving the name
and writes the include file (temporary checkpoints).  For each way a run
can end (success, the CA refusing the challenge, the plugin process dying,
a kernel bug, Ctrl-C) the server root is byte-identical afterwards and a
later ``certkernel rollback`` reports no "interrupted run".
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from tests.infra.apache_site import SITE, Site, running_site
from tests.infra.challenge_revert import (
    FAULT,
    MARK,
    assert_nothing_left,
    config_tree,
    interrupt_when_published,
    wrapped_ctl,
)
from tests.infra.pebble import Pebble


def _tree(site: Site) -> Callable[[], dict[str, bytes]]:
    return lambda: config_tree(site.root)


def _ctl(site: Site, action: str) -> Path:
    return wrapped_ctl(site.base / "apache-ctl", str(shutil.which("apache2ctl")), "-k graceful",
                       site.root / MARK, action)


def _named_site(pebble: Pebble, name: str) -> AbstractContextManager[Site]:
    """Like the conftest's site, with one vhost whose ServerName is ``name``."""
    text = SITE.replace("ServerName example.test", f"ServerName {name}").replace(
        "    ServerAlias www.example.test\n", "")
    return running_site(pebble, "ck-e2e-apache-tmp-", {"named.conf": text})


def test_success(site: Site) -> None:
    tree = _tree(site)
    before = tree()
    done = site.cli("certonly", "--apache", "-d", "example.test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site.config_dir / "live" / "example.test" / "cert.pem").is_file()
    assert_nothing_left(site, tree, before)


def test_ca_refuses_the_challenge(pebble: Pebble) -> None:
    """The name resolves, for the CA, to an address apache does not listen on."""
    name = f"refused-{os.getpid()}.example.test"
    with _named_site(pebble, name) as site:
        tree = _tree(site)
        pebble.add_a(name, ["127.0.0.2"])
        try:
            before = tree()
            done = site.cli("certonly", "--apache", "-d", name)
        finally:
            pebble.clear_a(name)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"Some challenges failed ({name})" in done.stderr, done.stderr
        assert_nothing_left(site, tree, before)


def test_plugin_process_dies_after_publishing(site: Site) -> None:
    tree = _tree(site)
    before = tree()
    ctl = _ctl(site, "kill -9 $PPID; exit 1")
    done = site.cli("certonly", "--apache", "-d", "example.test", "--apache-ctl", str(ctl))
    assert (site.root / MARK).exists(), done.stdout + done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    assert not (site.config_dir / "live" / "example.test").exists()
    assert_nothing_left(site, tree, before)


def test_kernel_bug_after_publishing(site: Site) -> None:
    tree = _tree(site)
    before = tree()
    done = site.cli("certonly", "--apache", "-d", "example.test",
                    wrapper=[sys.executable, str(FAULT), "answer"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "injected kernel bug" in done.stderr
    assert_nothing_left(site, tree, before)


def test_ctrl_c_while_the_challenge_is_published(site: Site) -> None:
    tree = _tree(site)
    before = tree()
    ctl = _ctl(site, "sleep 30")  # holds the plugin in perform, challenge written
    status, _out, err = interrupt_when_published(
        site, ["certonly", "--apache", "-d", "example.test", "--apache-ctl", str(ctl)],
        site.root / MARK)
    assert status == 130, err
    assert "Exiting due to user request." in err
    assert_nothing_left(site, tree, before)
