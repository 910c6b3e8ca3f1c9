"""The standalone authenticator: answers http-01 from its own tiny web server.

Sockets come from the kernel (``fds["http01_sockets"]``, bound while it may
still hold privileges for port 80) or, when none were handed over
(``plugin-check``, tests), are bound here per ``http01_port`` /
``http01_address``. Serving starts in ``perform`` and stops in ``cleanup``
once no token is left; sockets we bound ourselves are closed then, so the
port is free again, while handed-over ones stay open for a later order in
the same run.
"""

from __future__ import annotations

from certkernel.plugins.standalone import binding
from certkernel.plugins.standalone.server import ChallengeServer, TokenTable
from certkernel.sdk import Authenticator, Challenge, PluginError

DEFAULT_PORT = 80


class Standalone(Authenticator):
    """Runs a temporary web server on the http-01 port (default 80) to answer
    http-01 challenges itself. Nothing else may listen on that port while it
    runs: stop your web server first, or use the webroot or a server plugin."""

    name = "standalone"
    version = "1.0.0"

    def __init__(self) -> None:
        self._tokens = TokenTable()
        self._server: ChallengeServer | None = None
        self._own_sockets = False

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["http-01"]

    def _port(self) -> int:
        port = self.settings.get("http01_port", DEFAULT_PORT)
        return DEFAULT_PORT if port is None else int(port)

    def _ensure_server(self) -> ChallengeServer:
        if self._server is not None:
            return self._server
        handed = self.fds.get("http01_sockets") or []
        if handed:
            sockets = binding.adopt(handed)
            self._own_sockets = False
        else:
            address = str(self.settings.get("http01_address") or "")
            sockets = binding.bind(
                self._port(), address, warn=lambda m: self.kernel.log("warning", m)
            )
            self._own_sockets = True
        self._server = ChallengeServer(sockets, self._tokens)
        return self._server

    def perform(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            if chall.type != "http-01":
                raise PluginError(
                    f"the standalone plugin only answers http-01 challenges, not {chall.type} "
                    f"for {chall.identifier}"
                )
        server = self._ensure_server()
        for chall in challenges:
            self._tokens.add(chall.token, chall.key_authorization)
        server.start()
        where = ", ".join(_describe(s.getsockname()) for s in server.sockets)
        self.kernel.log("debug", f"standalone: serving {len(challenges)} token(s) on {where}")

    def cleanup(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            self._tokens.remove(chall.token)
        if len(self._tokens) == 0:
            self._release()

    def _release(self) -> None:
        if self._server is None:
            return
        if self._own_sockets:
            self._server.close()
            self._server = None
        else:
            self._server.stop()

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


def _describe(sockname: tuple[object, ...]) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
