"""``certkernel responder --listen ADDR:PORT``: serve the http-01 challenge board.

Runs until SIGTERM or SIGINT (a systemd unit, docs/fleet.md), then stops
accepting, lets the requests in flight finish (bounded) and exits 0.
"""

from __future__ import annotations

import signal
from types import FrameType

from certkernel.config import Config
from certkernel.display import say
from certkernel.fleet.challenge_board import board_for, open_up_front
from certkernel.fleet.responder import Responder
from certkernel.fleet.responder_setup import bind, drop_to, parse_listen, target_user


def run(config: Config) -> int:
    host, port = parse_listen(config.responder_listen)
    user = target_user(config.responder_user, config.lock_timeout)
    board = board_for(config)
    sock = bind(host, port)
    try:
        open_up_front(board)  # while still root: the board stays readable after the drop
        if user is not None:
            drop_to(user)
    except BaseException:
        sock.close()
        raise
    responder = Responder(board, [sock])

    def stop(_signum: int, _frame: FrameType | None) -> None:
        responder.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    who = f" as {user.describe()}" if user is not None else ""
    say(config, f"Answering http-01 challenges on {where}{who}; stop with SIGTERM or Ctrl-C")
    try:
        responder.serve()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say(config, "Responder stopped")
    return 0
