"""What ``certkernel responder`` does before it serves: parse ``--listen``, bind, drop root.

The order is the point. The port (80, usually) is bound and the challenge
board opened while the process may still be root; then it becomes an
unprivileged user (``--responder-user``, else certkernel's own
``_certkernel`` account when run as root) with no supplementary groups and
``no_new_privs``, before it reads a single byte from the network. The
board's open directory descriptor keeps working after the switch.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket

from certkernel import errors
from certkernel.plugin_host.sandbox_users import SandboxUser, ensure_account, lookup_user
from certkernel.runtime.http01_sockets import listening_socket

_PR_SET_NO_NEW_PRIVS = 38


def parse_listen(value: str | None) -> tuple[str, int]:
    """``ADDR:PORT`` or ``[V6ADDR]:PORT`` -> (address, port); ConfigurationError otherwise."""
    usage = ("certkernel responder needs --listen ADDR:PORT (e.g. --listen 0.0.0.0:80 or "
             "--listen [::]:80)")
    if not value:
        raise errors.ConfigurationError(usage)
    host, sep, port_text = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise errors.ConfigurationError(f"--listen {value}: not ADDR:PORT; {usage}") from None
    if not sep or not 0 < port < 65536:
        raise errors.ConfigurationError(f"--listen {value}: the port must be 1-65535; {usage}")
    return host, port


def bind(host: str, port: int) -> socket.socket:
    """The listening socket; one clear line when the port is taken or privileged."""
    try:
        sock = listening_socket(host, port, 128)
    except OSError as exc:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise errors.ConfigurationError(
            f"certkernel responder cannot listen on {where}: {exc.strerror}; stop what uses "
            "it or choose another --listen (ports below 1024 need root)") from None
    return sock


def target_user(spec: str | None, lock_timeout: float) -> SandboxUser | None:
    """Who to become: None to stay as we are (not root, or ``--responder-user root``)."""
    if spec:
        user = lookup_user(spec, "--responder-user")
        if user.uid == os.geteuid():
            return None
        if os.geteuid() != 0:
            raise errors.ConfigurationError(
                f"--responder-user {spec}: only root can run the responder as another user")
        return user
    if os.geteuid() != 0:
        return None
    return ensure_account(lock_timeout=lock_timeout)


def drop_to(user: SandboxUser) -> None:
    """Become ``user`` for good: no groups, its uid and gid, no way back (no_new_privs)."""
    os.setgroups([])
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise errors.Error("cannot set no_new_privs after dropping privileges")
