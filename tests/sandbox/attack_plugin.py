"""A test authenticator that carries out one attack on the kernel per ``mode``.

Modes (option ``mode``), each done in ``perform``:

- ``linger``: double fork + ``setsid``; the grandchild keeps the handed-over
  http-01 sockets and sleeps, its pid in ``grandchild.pid``. With option
  ``then=sleep`` perform then blocks (the kernel is killed meanwhile), else
  it fails so the run ends.
- ``flood``: ``flood-mib`` MiB through ``$/log`` and as many on stderr.
- ``escapes``: terminal escape sequences and fake lines through ``$/log``,
  stderr, ``$/progress`` and ``display/notification``.
- ``env``: writes its environment to ``env.json``, then logs the value of
  ``ATTACK_ENV_TOKEN`` every way it can.

Every pid the plugin starts is appended to ``pids`` in its state dir.
"""

from __future__ import annotations

import json
import os
import sys
import time

from certkernel.sdk import Authenticator, Challenge, PluginError, serve

ESCAPES = [
    "\x1b]0;pwned-title\x07",  # window title
    "\x1b[2J\x1b[H",  # clear screen, cursor home
    "\x1b]52;c;cHduZWQtY2xpcGJvYXJk\x07",  # OSC 52: write the clipboard
    "\r\x1b[2KAll good: certificate issued",  # overwrite the line
    "\nAll good: nothing to see",  # a fake line of its own
    "\x9b31mred\x9d0;c1-title\x9c",  # 8-bit CSI and OSC
]


PROGRESS_CHARS = 256
PROGRESS_PER_MIB = 1024 * 1024 // PROGRESS_CHARS


class Attack(Authenticator):
    name = "attack"
    version = "0.1.0"

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def _path(self, name: str) -> str:
        return os.path.join(self.state_dir, name)

    def _note_pid(self, pid: int) -> None:
        with open(self._path("pids"), "a", encoding="ascii") as fh:
            fh.write(f"{pid}\n")

    def perform(self, challenges: list[Challenge]) -> None:
        self._note_pid(os.getpid())
        mode = self.options.get("mode", "")
        getattr(self, f"_{mode}")()
        raise PluginError(f"attack: {mode} finished")

    def cleanup(self, challenges: list[Challenge]) -> None:
        """Nothing to undo: no attack publishes anything."""

    def _linger(self) -> None:
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                # The grandchild: out of the plugin's process group and session,
                # with no death signal, still holding the http-01 sockets.
                self._note_pid(os.getpid())
                with open(self._path("grandchild.pid"), "w", encoding="ascii") as fh:
                    fh.write(str(os.getpid()))
                time.sleep(300)
            os._exit(0)
        os.wait()
        deadline = time.monotonic() + 30
        while not os.path.exists(self._path("grandchild.pid")) and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.options.get("then") == "sleep":
            time.sleep(300)

    def _flood(self) -> None:
        chunk = "A" * (1024 * 1024)
        for _ in range(int(self.options.get("flood-mib", 0))):
            self.kernel.log("warning", chunk)
            sys.stderr.write(chunk[:4000] + "\n")
            for _ in range(255):
                sys.stderr.write(chunk[:4000] + "\n")
            # Distinct progress lines (a repeated one is shown once): 1 MiB of them.
            for n in range(PROGRESS_PER_MIB):
                self.kernel.progress(f"{n:06d} " + "P" * (PROGRESS_CHARS - 7))
            # And 1 MiB of notices, which the kernel prints on the terminal.
            for _ in range(16):
                self.kernel.show_message("N" * (64 * 1024))
        sys.stderr.flush()

    def _escapes(self) -> None:
        for text in ESCAPES:
            self.kernel.log("warning", f"log{text}")
            sys.stderr.write(f"stderr{text}\n")
            self.kernel.progress(f"progress{text}")
            self.kernel.show_message(f"notice{text}")
        sys.stderr.flush()

    def _env(self) -> None:
        with open(self._path("env.json"), "w", encoding="utf-8") as fh:
            json.dump(dict(os.environ), fh)
        token = os.environ.get("ATTACK_ENV_TOKEN", "")
        self.kernel.log("warning", f"my token is {token}")
        sys.stderr.write(f"token on stderr: {token}\n")
        sys.stderr.flush()
        raise PluginError(f"failing with the token {token}")


if __name__ == "__main__":
    serve(Attack)
