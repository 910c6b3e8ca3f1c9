"""``certkernel responder`` as a process, against the requests a hostile client sends.

The responder faces the internet: it must answer a published token and
nothing else. Each request here is one a scanner or attacker would try;
none may get anything but 404/400/405, and none may get the content of a
file outside the board, even one shaped exactly like a key authorization.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel.fleet.challenge_board import BOARD_DIR, LocalBoard
from tests.infra.board_backends import KEY_AUTHORIZATION, THUMBPRINT, TOKEN, token
from tests.infra.responder import ResponderProcess, body_of, get, raw, status_of

PREFIX = "/.well-known/acme-challenge/"


@pytest.fixture(scope="module")
def responder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResponderProcess]:
    running = ResponderProcess(tmp_path_factory.mktemp("responder")).start()
    yield running
    running.stop()


@pytest.fixture
def board(responder: ResponderProcess) -> Iterator[LocalBoard]:
    b = LocalBoard(str(responder.work_dir / BOARD_DIR))
    b.publish(TOKEN, KEY_AUTHORIZATION)
    yield b
    for name in os.listdir(b.directory):
        os.unlink(os.path.join(b.directory, name))


@pytest.fixture
def outside(responder: ResponderProcess) -> Path:
    """A file outside the board holding a valid-looking answer for token(7)."""
    path = responder.work_dir / "outside.txt"
    path.write_text(f"{token(7)}.{THUMBPRINT}")
    path.chmod(0o644)
    return path


def test_a_published_token_is_answered_as_plain_text(responder: ResponderProcess,
                                                     board: LocalBoard) -> None:
    reply = get(responder.port, PREFIX + TOKEN)
    assert status_of(reply) == 200
    assert body_of(reply) == KEY_AUTHORIZATION.encode()
    assert b"\r\nContent-Type: text/plain\r\n" in reply


def test_head_gets_the_headers_without_the_body(responder: ResponderProcess,
                                                board: LocalBoard) -> None:
    reply = get(responder.port, PREFIX + TOKEN, "HEAD")
    assert status_of(reply) == 200
    assert f"\r\nContent-Length: {len(KEY_AUTHORIZATION)}\r\n".encode() in reply
    assert body_of(reply) == b""


def test_a_withdrawn_token_is_404(responder: ResponderProcess, board: LocalBoard) -> None:
    board.withdraw(TOKEN)
    assert status_of(get(responder.port, PREFIX + TOKEN)) == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PROPFIND"])
def test_other_methods_are_405(responder: ResponderProcess, board: LocalBoard,
                               method: str) -> None:
    reply = get(responder.port, PREFIX + TOKEN, method)
    assert status_of(reply) == 405
    assert b"\r\nAllow: GET, HEAD\r\n" in reply
    assert KEY_AUTHORIZATION.encode() not in reply


@pytest.mark.parametrize("path", [
    "/", "/.well-known/", PREFIX, PREFIX[:-1], "/index.html", "/etc/passwd",
    PREFIX + "..%2f..%2foutside.txt", PREFIX + "..%2F..%2Foutside.txt",
    PREFIX + "../outside.txt", PREFIX + "../../work/outside.txt",
    PREFIX + "%2e%2e/outside.txt", PREFIX + "..", PREFIX + ".",
    PREFIX + TOKEN + "/", PREFIX + TOKEN + "?x=1", PREFIX + TOKEN + "%00",
    PREFIX + TOKEN + "/..", "/x" + PREFIX + TOKEN, "//" + PREFIX[1:] + TOKEN,
    f"http://a.example{PREFIX}{TOKEN}", PREFIX + ".tmp-" + TOKEN,
])
def test_anything_but_a_token_is_404(responder: ResponderProcess, board: LocalBoard,
                                     outside: Path, path: str) -> None:
    reply = get(responder.port, path)
    assert status_of(reply) == 404
    assert body_of(reply) == b"not found\n"


def test_a_symlink_planted_in_the_board_serves_nothing(responder: ResponderProcess,
                                                       board: LocalBoard, outside: Path) -> None:
    (Path(board.directory) / token(7)).symlink_to(outside)
    reply = get(responder.port, PREFIX + token(7))
    assert status_of(reply) == 404
    assert outside.read_bytes() not in reply


def test_a_symlinked_parent_in_the_path_serves_nothing(responder: ResponderProcess,
                                                       board: LocalBoard, outside: Path) -> None:
    """A directory symlink under a token-like name leads nowhere (a token has no '/')."""
    (Path(board.directory) / "sub").symlink_to(outside.parent)
    assert status_of(get(responder.port, PREFIX + "sub/outside.txt")) == 404


@pytest.mark.parametrize("request_bytes", [
    b"HELLO\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET  / HTTP/1.1\r\n\r\n",
    b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(40)) + b"\r\n",
    b"GET / HTTP/1.1\r\nX-Long: " + b"y" * 9000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
])
def test_malformed_or_oversized_requests_are_400(responder: ResponderProcess,
                                                 board: LocalBoard, request_bytes: bytes) -> None:
    assert status_of(raw(responder.port, request_bytes)) == 400


def test_it_still_answers_after_the_hostile_requests(responder: ResponderProcess,
                                                     board: LocalBoard) -> None:
    assert body_of(get(responder.port, PREFIX + TOKEN)) == KEY_AUTHORIZATION.encode()


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_as_root_it_serves_as_the_unprivileged_account(responder: ResponderProcess) -> None:
    import pwd

    assert responder.uid() == pwd.getpwnam("_certkernel").pw_uid


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_cleanly(tmp_path: Path, sig: int) -> None:
    running = ResponderProcess(tmp_path).start()
    status, out, err = running.stop(sig)
    assert (status, err) == (0, "")
    assert out.splitlines()[-1] == "Responder stopped"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.port), timeout=2).close()


def test_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = ResponderProcess(tmp_path, port=port)
        import subprocess

        done = subprocess.run(proc.argv(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"certkernel responder cannot listen on 127.0.0.1:{port}: Address already in use; "
        "stop what uses it or choose another --listen (ports below 1024 need root)")


@pytest.mark.parametrize("listen,expected", [
    (None, "certkernel responder needs --listen ADDR:PORT"),
    ("localhost", "--listen localhost: not ADDR:PORT"),
    ("127.0.0.1:0", "--listen 127.0.0.1:0: the port must be 1-65535"),
])
def test_a_bad_listen_is_one_clear_line(tmp_path: Path, listen: str | None,
                                        expected: str) -> None:
    import subprocess

    argv = ResponderProcess(tmp_path, port=1).argv()
    at = argv.index("--listen")
    argv[at:at + 2] = [] if listen is None else ["--listen", listen]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(expected)
