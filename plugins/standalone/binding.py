"""Listening sockets for the standalone server: bind them, or adopt handed-over ones.

Why a module of its own: the binding policy is what users notice. Without
``--http-01-address`` we bind IPv6 ``::`` (IPv6-only) and IPv4 ``0.0.0.0``
and carry on when one of them works, as Certbot does on hosts without IPv6;
with an address we bind exactly that. A port in use gets Certbot's
well-known message naming the port.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from certkernel.sdk import PluginError

BACKLOG = 64


@dataclass
class BindFailure:
    """One address we could not bind, kept to explain a total failure."""

    address: str
    port: int
    error: OSError


def port_in_use_message(port: int) -> str:
    """Certbot's wording, which users search for."""
    return (
        f"Could not bind TCP port {port} because it is already in use by another process "
        "on this system (such as a web server). Please stop the program in question and "
        "then try again."
    )


def adopt(fds: Sequence[int]) -> list[socket.socket]:
    """Wrap descriptors the kernel handed over (already bound and listening)."""
    sockets = []
    for fd in fds:
        sock = socket.socket(fileno=fd)
        if sock.type != socket.SOCK_STREAM:
            raise PluginError(f"descriptor {fd} handed over for http-01 is not a TCP socket")
        sockets.append(sock)
    return sockets


def _bind_one(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and address == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _failure_error(port: int, failures: Sequence[BindFailure]) -> PluginError:
    if any(f.error.errno == errno.EADDRINUSE for f in failures):
        return PluginError(port_in_use_message(port))
    details = "; ".join(f"{f.address}: {f.error.strerror or f.error}" for f in failures)
    return PluginError(f"Could not bind TCP port {port} for the http-01 challenge ({details})")


def bind(
    port: int, address: str = "", warn: Callable[[str], None] | None = None
) -> list[socket.socket]:
    """Bind the http-01 listener(s) on ``port``; PluginError when none could be bound."""
    if address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise PluginError(
                f"--http-01-address {address!r} is not an IP address"
            ) from None
        candidates = [address]
    else:
        candidates = ["::", "0.0.0.0"]
    sockets: list[socket.socket] = []
    failures: list[BindFailure] = []
    for candidate in candidates:
        try:
            sockets.append(_bind_one(candidate, port))
        except OSError as exc:
            failures.append(BindFailure(candidate, port, exc))
    if not sockets:
        raise _failure_error(port, failures)
    if failures and warn is not None:
        for failure in failures:
            warn(
                f"standalone: could not bind {failure.address} port {port} "
                f"({failure.error.strerror or failure.error}); serving on the other address only"
            )
    return sockets
