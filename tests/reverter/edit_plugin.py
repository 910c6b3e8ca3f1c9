"""An installer plugin process that edits a file under the kernel's checkpoints.

``deploy_cert`` takes the file to edit as ``cert_path`` and the file to
create as ``key_path`` (a test convention); ``domain`` picks the behaviour:
``ok`` edits and returns, ``crash`` edits and then SIGKILLs its own process,
so only the kernel's copy of the original is left.  ``save`` finalizes and
``enhance(_, "undo")`` asks the kernel to roll back one checkpoint.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from certkernel.sdk import Installer, serve


class Editor(Installer):
    name = "editor"
    version = "1.0.0"

    def prepare(self) -> None:
        pass

    def more_info(self) -> str:
        return "edits files under kernel checkpoints"

    def get_all_names(self) -> list[str]:
        return ["example.com"]

    def deploy_cert(
        self, domain: str, cert_path: str, key_path: str, chain_path: str, fullchain_path: str
    ) -> None:
        self.kernel.checkpoint_add([cert_path])
        self.kernel.checkpoint_register_new([key_path])
        with open(key_path, "w") as handle:
            handle.write("ssl_protocols TLSv1.3;\n")
        with open(cert_path, "a") as handle:
            handle.write("ssl_certificate /etc/letsencrypt/live/example.com/fullchain.pem;\n")
        if domain == "crash":
            os.kill(os.getpid(), signal.SIGKILL)

    def supported_enhancements(self) -> list[str]:
        return ["undo"]

    def enhance(self, domain: str, enhancement: str, options: Any = None) -> None:
        self.kernel.checkpoint_rollback(1)

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        self.kernel.checkpoint_finalize(title or "edited")

    def config_test(self) -> None:
        pass

    def restart(self) -> None:
        pass


if __name__ == "__main__":
    serve(Editor)
