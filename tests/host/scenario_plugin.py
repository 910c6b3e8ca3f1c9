"""A plugin with named behaviours, run as a real subprocess by the host tests.

``python scenario_plugin.py <scenario>`` picks what it does: behave, crash
mid-call, hang, write garbage, flood stderr, exit before the handshake, and
so on. Each scenario is one way a real plugin can go wrong.
"""

from __future__ import annotations

import os
import sys
import time

SCENARIO = sys.argv[1] if len(sys.argv) > 1 else "good"

if SCENARIO == "exit_early":
    sys.stderr.write("scenario: giving up before the handshake\n")
    sys.exit(7)

if SCENARIO == "garbage_before_handshake":
    os.write(1, b"Hello, I am not msgpack\n")
    time.sleep(5)
    sys.exit(0)

if SCENARIO == "early_request":
    # Raw protocol: ask the kernel for storage and a ping while initialize is
    # still unanswered, then report what came back in the version field.
    import msgpack

    rfd, wfd = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    unpacker = msgpack.Unpacker(raw=False)

    def _next() -> list:  # type: ignore[type-arg]
        while True:
            for obj in unpacker:
                return obj  # type: ignore[no-any-return]
            chunk = os.read(rfd, 65536)
            if not chunk:
                sys.exit(0)
            unpacker.feed(chunk)

    init = _next()
    os.write(wfd, msgpack.packb([0, 1, "storage/get", [{"key": "k"}]]))
    os.write(wfd, msgpack.packb([0, 2, "$/ping", []]))
    seen = {}
    while len(seen) < 2:
        reply = _next()
        seen[reply[1]] = reply[2]["type"] if reply[2] else f"result {reply[3]}"
    version = f"{seen[1]}; ping: {seen[2]}"
    os.write(wfd, msgpack.packb([1, init[1], None, {
        "protocol_version": 1, "name": "scenario", "version": version, "capabilities": []}]))
    while True:
        message = _next()
        if message[0] == 0:
            os.write(wfd, msgpack.packb([1, message[1], None, {}]))

from certkernel import errors  # noqa: E402
from certkernel.sdk import Authenticator, Challenge, Installer, serve  # noqa: E402

ERRORS = {cls.__name__: cls for cls in errors.PLUGIN_ERROR_TYPES.values()}


class Scenario(Authenticator, Installer):
    """A test plugin that does everything and can misbehave on purpose."""

    name = "scenario"
    version = "9.9.9"
    capabilities = ("renew_deploy",)

    def __init__(self) -> None:
        self.performed: list[str] = []
        self.deployed: list[str] = []

    def prepare(self) -> None:
        if SCENARIO == "misconfigured":
            raise errors.MisconfigurationError("the server config is broken in a test way")
        print("a stray print must not corrupt the channel")
        os.system("echo a child writing to stdout must not either")

    def get_chall_pref(self, domain: str) -> list[str]:
        if SCENARIO == "crash":
            sys.stderr.write("scenario: about to crash\n")
            sys.stderr.flush()
            os._exit(13)
        if SCENARIO == "hang":
            sys.stderr.write("scenario: hanging\n")
            sys.stderr.flush()
            time.sleep(3600)
        if SCENARIO == "garbage":
            os.write(self._endpoint._wfd, b"\xc1garbage from the plugin")  # noqa: SLF001
            time.sleep(3600)
        if SCENARIO == "truncated_exit":
            # half of [1, 999, nil, {}], then a clean exit: truncation, not a crash
            os.write(self._endpoint._wfd, bytes.fromhex("9401cd03"))  # noqa: SLF001
            os._exit(0)
        if SCENARIO == "unknown_id":
            # [1, 999, nil, {}]: a response to a request the kernel never sent
            os.write(self._endpoint._wfd, bytes.fromhex("9401cd03e7c080"))  # noqa: SLF001
            time.sleep(3600)
        if SCENARIO == "ext_value":
            # [2, "$/log", [{"level": "info", "message": ext 5}]]: an extension type
            os.write(self._endpoint._wfd, bytes.fromhex(  # noqa: SLF001
                "9302a5242f6c6f679182a56c6576656ca4696e666fa76d657373616765d40501"))
            time.sleep(3600)
        if SCENARIO == "flood":
            chunk = "x" * 1023 + "\n"
            for _ in range(1200):
                sys.stderr.write(chunk)
            sys.stderr.flush()
        if SCENARIO == "spawn_child":
            import subprocess

            child = subprocess.Popen(["sleep", "3600"])  # noqa: S603,S607
            self.kernel.log("info", f"child pid {child.pid}")
        return ["http-01", "dns-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        answer = self.kernel.input(
            f"Where do files for {challenges[0].identifier} go?",
            cli_flag="--scenario-where",
        )
        self.kernel.log("info", f"performing {len(challenges)} with answer {answer}")
        self.kernel.progress("waiting for nothing", done=1, total=1)
        self.performed = [c.validation for c in challenges]
        self.kernel.storage_put("last", {"answer": answer, "count": len(challenges)})

    def cleanup(self, challenges: list[Challenge]) -> None:
        if not self.performed:
            raise errors.PluginError("cleanup before perform")

    def more_info(self) -> str:
        return "Scenario plugin for host tests."

    def get_all_names(self) -> list[str]:
        return ["b.example", "a.example", "a.example"]

    def deploy_cert(self, domain, cert_path, key_path, chain_path, fullchain_path):  # type: ignore[no-untyped-def]
        if domain in ERRORS_BY_DOMAIN:
            raise ERRORS[ERRORS_BY_DOMAIN[domain]](f"deploy refused for {domain}")
        if domain == "boom.example":
            raise ValueError("an unexpected bug")
        self.deployed.append(f"{domain}:{fullchain_path}")

    def supported_enhancements(self) -> list[str]:
        return ["redirect"]

    def enhance(self, domain, enhancement, options=None):  # type: ignore[no-untyped-def]
        if enhancement != "redirect":
            raise errors.NotSupportedError(enhancement)

    def save(self, title=None, temporary=False):  # type: ignore[no-untyped-def]
        self.kernel.checkpoint_add(["/tmp/scenario-file"], temporary=temporary)

    def config_test(self) -> None:
        pass

    def restart(self) -> None:
        pass

    def renew_deploy(self, lineage):  # type: ignore[no-untyped-def]
        self.deployed.append(lineage.name)

    def shutdown(self) -> None:
        if SCENARIO == "ignore_shutdown":
            import signal

            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(3600)


ERRORS_BY_DOMAIN = {f"{name.lower()}.example": name for name in ERRORS}

if SCENARIO == "bad_version":
    # Pretend to be a plugin built for a future protocol.
    import certkernel.sdk.server as sdk_serve

    sdk_serve.PROTOCOL_VERSIONS = (99,)

if SCENARIO == "off_registry":
    # Behave like a plugin written without an SDK that gets the shapes wrong:
    # it answers get_chall_pref with a string, and asks for a menu whose
    # choices are a string. Both must fail naming the method and the field.
    from typing import Any

    import certkernel.sdk.server as sdk_serve

    _handle = sdk_serve._Session.handle

    def _off_registry(self: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "get_chall_pref":
            return {"challenges": "http-01"}
        if method == "perform":
            try:
                self.endpoint.call("display/menu", {"message": "pick", "choices": "abc"})
            except errors.InvalidParams as exc:
                raise errors.PluginError(f"kernel refused: {exc}") from None
            return {}
        result: dict[str, Any] = _handle(self, method, params)
        return result

    sdk_serve._Session.handle = _off_registry  # type: ignore[method-assign]

serve(Scenario)
