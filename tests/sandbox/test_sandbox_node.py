"""A Node.js plugin running as another user keeps full stdout protection.

The Node SDK reopens its protocol pipes through /proc/self/fd; that works
for a plugin of another user only because the host hands it pipe ends it
owns. A child writing to an inherited stdout must then not corrupt the
channel.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
from pathlib import Path

from certkernel.plugin_host.launch import start_plugin
from certkernel.plugin_host.manifest import load_manifest
from certkernel.plugin_host.proxies import RemoteAuthenticator
from certkernel.plugin_host.sandbox import limits_for, lookup_user
from certkernel.plugin_host.services import KernelServices
from tests.infra import sandbox_env as se

REPO = Path(__file__).resolve().parents[2]


def test_node_plugin_as_another_user_gets_fd_protection(sandbox_user, sandbox_root, monkeypatch):
    base = se.world_dir(sandbox_root, "node")
    sdk = base / "sdk-node"
    shutil.copytree(REPO / "sdk" / "node", sdk, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("test"))
    probe = base / "js-probe"
    shutil.copytree(Path(__file__).parent / "js_probe", probe, dirs_exist_ok=True)
    for path in [base, *base.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    monkeypatch.setenv("JS_PROBE_SDK", str(sdk))
    user = pwd.getpwnam(sandbox_user)
    state = se.world_dir(sandbox_root, "node-state") / "js-probe"
    manifest = load_manifest(probe / "plugin.toml")
    process = start_plugin(
        manifest,
        KernelServices("js-probe").handle,
        state_dir=str(state),
        user=lookup_user(sandbox_user),
        limits=limits_for(manifest),
        logger=logging.getLogger("test.sandbox.node"),
    )
    try:
        auth = RemoteAuthenticator(process)
        auth.prepare()  # its child printed to an inherited stdout
        assert auth.more_info() == f"fd uid={user.pw_uid}"
        assert auth.get_chall_pref("example.com") == ["http-01"]
        assert os.stat(f"/proc/{process.pid}").st_uid == user.pw_uid
    finally:
        process.close()
    assert process.popen.returncode == 0
