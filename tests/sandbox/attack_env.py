"""Installing the attack plugin (attack_plugin.py) as a third-party plugin.

Each test gets its own manifest folder under ``$XDG_DATA_HOME`` so the
manifests can differ (name, ``env`` list, sandbox user) without sharing.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from pathlib import Path

from tests.infra.sandbox_env import REPO, world_dir

PLUGIN = REPO / "tests" / "sandbox" / "attack_plugin.py"


def manifest(name: str, user: str, env: Sequence[str] = (), starts_services: bool = False) -> str:
    return f'''
name = "{name}"
description = "Attacks the kernel on purpose (tests only)"
version = "0.1.0"
roles = ["authenticator"]
challenges = ["http-01"]
command = ["{{python}}", "{PLUGIN}"]
env = {json.dumps(list(env))}

[needs]
http01_sockets = true
starts_services = {"true" if starts_services else "false"}

[[options]]
name = "mode"
type = "str"
default = ""

[[options]]
name = "then"
type = "str"
default = ""

[[options]]
name = "flood-mib"
type = "int"
default = 0

[sandbox]
user = "{user}"
'''


def install(root: Path, folder: str, text: str, name: str = "attack") -> dict[str, str]:
    """The environment that makes the kernel find the manifest ``text`` under ``root``."""
    xdg = world_dir(root, folder)
    plugin_dir = xdg / "certkernel" / "plugins" / name
    plugin_dir.mkdir(parents=True, exist_ok=True)
    for path in (xdg / "certkernel", xdg / "certkernel" / "plugins", plugin_dir):
        path.chmod(0o755)
    (plugin_dir / "plugin.toml").write_text(text)
    return {"XDG_DATA_HOME": str(xdg)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def can_bind(port: int) -> bool:
    """Whether a fresh socket can listen on 127.0.0.1:``port`` (as the kernel would)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        except OSError:
            return False
    return True


def state_dirs(dirs: list[str], name: str) -> list[Path]:
    """Every state folder the kernel made for plugin ``name`` (one per user it ran as)."""
    base = Path(dirs[3]) / "plugins"
    return sorted(p for p in base.glob(f"{name}*") if p.is_dir())
