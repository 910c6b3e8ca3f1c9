"""A test plugin that behaves badly on purpose, run as an unprivileged user.

Modes (option ``mode``): ``probe`` tries to reach what a sandboxed plugin
must never reach and writes what happened to ``report.json`` in its state
directory; ``sleep`` blocks in perform (the kernel is killed meanwhile);
``memory`` / ``files`` / ``cpu`` exceed the sandbox's memory / open-file /
CPU time limit; ``liar`` fails with an error that only *says* MemoryError.
Every cleanup call appends ``<pid> <names>`` to ``cleanup.log``.
"""

from __future__ import annotations

import json
import os
import socket
import time

from certkernel.sdk import Authenticator, Challenge, PluginError, serve


def _attempt(action: object) -> str:
    """"ok: ..." when the action worked, else "denied: <errno name>"."""
    try:
        result = action()  # type: ignore[operator]
    except OSError as exc:
        import errno

        return f"denied: {errno.errorcode.get(exc.errno or 0, str(exc))}"
    return f"ok: {str(result)[:60]}"


def _read(path: str) -> object:
    return lambda: open(path, "rb").read(64)  # noqa: SIM115


def _bind(host: str, family: int) -> object:
    def action() -> str:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, 80))
            return "bound"
    return action


class Hostile(Authenticator):
    name = "hostile"
    version = "0.1.0"

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def _path(self, name: str) -> str:
        return os.path.join(self.state_dir, name)

    def perform(self, challenges: list[Challenge]) -> None:
        with open(self._path("perform.pid"), "w") as fh:
            fh.write(str(os.getpid()))
        mode = self.options.get("mode", "probe")
        if mode == "probe":
            self._probe()
            raise PluginError("hostile: probe finished")
        if mode == "sleep":
            time.sleep(60)
        elif mode == "memory":
            hog = bytearray(4 * 1024 * 1024 * 1024)
            raise PluginError(f"allocated {len(hog)} bytes: no memory limit")
        elif mode == "cpu":
            while True:
                pass
        elif mode == "liar":
            raise RuntimeError("MemoryError: I only say so, I am alive and well")
        elif mode == "files":
            kept = [open(os.devnull, "rb") for _ in range(100000)]  # noqa: SIM115
            raise PluginError(f"opened {len(kept)} files: no file limit")

    def _probe(self) -> None:
        with open(str(self.options["targets"]), encoding="utf-8") as fh:
            targets = json.load(fh)
        kernel = os.getppid()
        report = {
            "account_key": _attempt(_read(targets["account_key"])),
            "cert_key": _attempt(_read(targets["cert_key"])),
            "cert_key_live": _attempt(_read(targets["cert_key_live"])),
            "kernel_environ": _attempt(_read(f"/proc/{kernel}/environ")),
            "kernel_signal": _attempt(lambda: os.kill(kernel, 0)),
            "bind_80_v4": _attempt(_bind("127.0.0.1", socket.AF_INET)),
            "bind_80_v6": _attempt(_bind("::1", socket.AF_INET6)),
            "setuid_0": _attempt(lambda: os.setuid(0)),
            "own_environ": sorted(os.environ),
            "status": open("/proc/self/status").read(),  # noqa: SIM115
        }
        with open(self._path("report.json"), "w", encoding="utf-8") as fh:
            json.dump(report, fh)

    def cleanup(self, challenges: list[Challenge]) -> None:
        with open(self._path("cleanup.log"), "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {','.join(c.identifier for c in challenges)}\n")


if __name__ == "__main__":
    serve(Hostile)
