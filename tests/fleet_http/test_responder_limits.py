"""The responder's bounds, in process with short limits: slow clients and floods.

The command runs with a 10-second request deadline and 64 connections; here
the same ``Responder`` runs with 1 second and 2, so that a test can show
that a client trickling bytes is cut off at the deadline, and that clients
beyond the limit are closed at once instead of queued, without waiting long.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel.fleet.challenge_board import LocalBoard
from certkernel.fleet.responder import Responder
from tests.infra.board_backends import KEY_AUTHORIZATION, TOKEN
from tests.infra.responder import body_of, get

DEADLINE = 1.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Responder, int]]:
    board = LocalBoard(str(tmp_path / "board"))
    board.publish(TOKEN, KEY_AUTHORIZATION)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    responder = Responder(board, [listener], deadline=DEADLINE, max_clients=2)
    thread = threading.Thread(target=responder.serve)
    thread.start()
    yield responder, port
    responder.stop()
    thread.join(30)
    assert not thread.is_alive()


def test_a_client_that_trickles_is_cut_off_at_the_deadline(served: tuple[Responder, int]) -> None:
    _, port = served
    with socket.create_connection(("127.0.0.1", port), timeout=30) as slow:
        started = time.monotonic()
        closed_at = None
        for byte in b"GET /.well-known/acme-challenge/" * 10:
            try:
                slow.sendall(bytes([byte]))
                slow.settimeout(0.2)
                if slow.recv(1) == b"":
                    closed_at = time.monotonic()
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_at = time.monotonic()
                break
    assert closed_at is not None, "the server kept a trickling client past its deadline"
    assert closed_at - started < DEADLINE + 5


def test_clients_beyond_the_limit_are_closed_and_the_rest_still_served(
        served: tuple[Responder, int]) -> None:
    _, port = served
    idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(2)]
    try:
        time.sleep(0.3)  # both accepted and holding their slots
        with socket.create_connection(("127.0.0.1", port), timeout=30) as extra:
            assert extra.recv(1) == b""  # closed at once, not queued
    finally:
        for sock in idle:
            sock.close()
    time.sleep(DEADLINE + 0.5)  # slots come back when their connections end
    assert body_of(get(port, "/.well-known/acme-challenge/" + TOKEN)) == \
        KEY_AUTHORIZATION.encode()


def test_stop_returns_even_with_a_client_connected(tmp_path: Path) -> None:
    board = LocalBoard(str(tmp_path / "board"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    responder = Responder(board, [listener], deadline=DEADLINE)
    thread = threading.Thread(target=responder.serve)
    thread.start()
    with socket.create_connection(listener.getsockname(), timeout=30):
        time.sleep(0.2)
        responder.stop()
        thread.join(30)
        assert not thread.is_alive()
    assert listener.fileno() == -1  # the listening socket is closed
