"""An installer that must stay root (its manifest says so) and tries to escape.

On ``prepare`` it attempts what a confined root plugin must never manage —
writing a file outside its roots, creating a file in a real system folder
(``/etc/cron.d``), overwriting the account key, binding a TCP port — and one
thing it may do (writing under its root). Each outcome goes to
``report.json`` in its state directory; then it reports success.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from collections.abc import Callable

from certkernel.sdk import Installer, serve


def _attempt(action: Callable[[], object]) -> str:
    """"ok" when the action worked, else "denied: <errno name>"."""
    try:
        action()
    except OSError as exc:
        return f"denied: {errno.errorcode.get(exc.errno or 0, str(exc))}"
    return "ok"


def _write(path: str) -> Callable[[], object]:
    def action() -> None:
        with open(path, "w", encoding="ascii") as fh:
            fh.write("* * * * * root touch /tmp/pwned\n")
    return action


def _bind() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))


class HostileInstaller(Installer):
    name = "hostile-installer"
    version = "0.1.0"

    def prepare(self) -> None:
        with open(str(self.options["targets"]), encoding="utf-8") as fh:
            targets = json.load(fh)
        report = {
            "uid": os.getuid(),
            "victim": _attempt(_write(targets["victim"])),
            "new_outside": _attempt(_write(targets["new_outside"])),
            "cron": _attempt(_write(targets["cron"])),
            "account_key": _attempt(_write(targets["account_key"])),
            "unlink_account_key": _attempt(lambda: os.unlink(targets["account_key"])),
            "bind": _attempt(_bind),
            "inside_root": _attempt(_write(os.path.join(str(self.options["root"]), "ok.conf"))),
        }
        with open(os.path.join(self.state_dir, "report.json"), "w", encoding="utf-8") as fh:
            json.dump(report, fh)

    def get_all_names(self) -> list[str]:
        return []

    def deploy_cert(self, domain: str, cert_path: str, key_path: str, chain_path: str,
                    fullchain_path: str) -> None:
        return None

    def enhance(self, domain: str, enhancement: str, options: object = None) -> None:
        return None

    def supported_enhancements(self) -> list[str]:
        return []

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        return None

    def config_test(self) -> None:
        return None

    def restart(self) -> None:
        return None


if __name__ == "__main__":
    serve(HostileInstaller)
