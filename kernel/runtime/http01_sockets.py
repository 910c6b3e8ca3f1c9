"""The http-01 listening sockets the kernel binds for a plugin that serves challenges.

The kernel binds them (a sandboxed plugin cannot bind port 80) and hands the
descriptors over in ``initialize``; the plugin only accepts on them.
"""

from __future__ import annotations

import socket

from certkernel import errors


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (an IPv6 one is v6-only); ``OSError``
    when it cannot bind. Shared by the plugin sockets and ``certkernel responder``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def bind_http01(port: int, address: str) -> list[socket.socket]:
    """Bind the http-01 listening sockets a standalone plugin will serve on.

    With an address, exactly that; without, IPv6 (v6-only) then IPv4, going
    on when one of them works, as Certbot's standalone does.
    """
    bound: list[socket.socket] = []
    failures: list[OSError] = []
    for host in [address] if address else ["::", "0.0.0.0"]:
        try:
            sock = listening_socket(host, port, 64)
        except OSError as exc:
            failures.append(exc)
            continue
        sock.set_inheritable(True)
        bound.append(sock)
    if not bound:
        where = f"{address}:{port}" if address else f"TCP port {port}"
        in_use = any(getattr(f, "errno", None) == 98 for f in failures)
        if in_use:
            raise errors.PluginError(
                f"Could not bind {where} because it is already in use by another process on "
                "this system (such as a web server). Please stop the program in question and "
                "then try again, or choose another port with --http-01-port."
            )
        raise errors.PluginError(f"Could not bind {where}: {failures[-1].strerror}")
    return bound
