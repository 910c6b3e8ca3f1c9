"""The Apache plugin as users run it: its own process, through the plugin host.

The kernel side is the real host (``start_plugin`` + ``KernelServices``)
with a checkpoint store that keeps exact bytes; Apache is a real apache2.
One scenario walks install -> redirect -> http-01 on the redirected site ->
cleanup -> rollback, checking what a user would see at each step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from certkernel.errors import MisconfigurationError
from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.manifest import load_manifest
from certkernel.plugin_host.process import PluginProcess
from certkernel.plugin_host.services import KernelServices
from certkernel.protocol.messages import Challenge
from certkernel.sdk.testing import MemoryStorage
from tests.apache.conftest import REPO, LiveApache
from tests.apache.helpers import make_cert, snapshot
from tests.infra.apache import http_get, served_cert_der, settled_get


@pytest.fixture
def plugin(live_apache: LiveApache) -> Iterator[tuple[PluginProcess, LiveApache]]:
    live = live_apache
    work = live.base / "work"
    work.mkdir(mode=0o755)
    services = KernelServices(
        "apache",
        storage=MemoryStorage(),
        checkpoints=live.checkpoints,  # type: ignore[arg-type]
        roots=[str(live.root)],
    )
    proc = start_plugin(
        load_manifest(REPO / "plugins" / "apache" / "plugin.toml"),
        services.handle,
        options={"server-root": str(live.root)},
        settings={
            "https_port": live.https_port,
            "http01_port": live.http_port,
            "work_dir": str(work),
            "config_dir": str(live.base / "letsencrypt"),
            "non_interactive": True,
        },
        state_dir=str(live.base / "state"),
        logger=logging.getLogger("test.apache"),
    )
    try:
        yield proc, live
    finally:
        proc.close()


def test_install_redirect_challenge_cleanup_rollback(
    plugin: tuple[PluginProcess, LiveApache],
) -> None:
    proc, live = plugin
    pristine = snapshot(live.root)
    assert proc.info["name"] == "apache"
    proc.call("prepare", {})
    assert proc.call("get_all_names", {})["names"] == [
        "example.test",
        "other.test",
        "www.example.test",
    ]
    assert "redirect" in proc.call("supported_enhancements", {})["enhancements"]

    cert = make_cert(live.base / "certs", ["example.test"], "a")
    proc.call(
        "deploy_cert",
        {"domain": "example.test", **{k: v for k, v in cert.items() if k.endswith("_path")}},
    )
    proc.call("enhance", {"domain": "example.test", "enhancement": "redirect", "options": None})
    proc.call("save", {"title": "install example.test", "temporary": False})
    proc.call("config_test", {})
    proc.call("restart", {})
    live.server.wait_port(live.https_port)
    assert served_cert_der(live.https_port, "example.test").hex() == cert["der"]
    assert http_get(live.http_port, "example.test")[0] == 301
    installed = snapshot(live.root)

    chall = Challenge(
        identifier="example.test",
        type="http-01",
        token="tok_en-123",
        key_authorization="tok_en-123.thumb",
        validation="tok_en-123.thumb",
        uri_path="/.well-known/acme-challenge/tok_en-123",
    )
    proc.call("perform", {"challenges": [chall.to_wire()]})
    status, _, body = http_get(live.http_port, "example.test", chall.uri_path)
    assert (status, body) == (200, b"tok_en-123.thumb")  # served despite the redirect
    assert http_get(live.http_port, "other.test", chall.uri_path)[0] == 404  # not its name
    proc.call("cleanup", {"challenges": [chall.to_wire()]})
    assert snapshot(live.root) == installed
    assert settled_get(live.http_port, "example.test", chall.uri_path, 301)[0] == 301

    live.checkpoints.rollback(1)
    assert snapshot(live.root) == pristine
    live.server.graceful()
    status, _, body = settled_get(live.http_port, "example.test", "/", 200)
    assert (status, body) == (200, b"plain site\n")


def test_unknown_name_fails_with_one_clear_line(plugin: tuple[PluginProcess, LiveApache]) -> None:
    proc, live = plugin
    proc.call("prepare", {})
    cert = make_cert(live.base / "certs", ["nothere.test"], "x")
    with pytest.raises(MisconfigurationError, match="ServerName nothere.test") as info:
        proc.call(
            "deploy_cert",
            {"domain": "nothere.test", **{k: v for k, v in cert.items() if k.endswith("_path")}},
        )
    assert "\n" not in str(info.value)


def test_bad_server_root_is_reported_at_prepare(live_apache: LiveApache) -> None:
    services = KernelServices("apache")
    proc = start_plugin(
        load_manifest(REPO / "plugins" / "apache" / "plugin.toml"),
        services.handle,
        options={"server-root": str(live_apache.base / "nope")},
        state_dir=str(live_apache.base / "state2"),
    )
    try:
        with pytest.raises(Exception, match="server root .*nope not found"):
            proc.call("prepare", {})
    finally:
        proc.close()
