"""Running apache2ctl/apachectl and the httpd binary, with bounded waits.

Every call passes ``-d <server root> -f <main file>``, so a private tree is
tested and reloaded as itself (``apache2ctl -f X configtest`` does not work:
the extra arguments reach apache2 only in the ``-t``/``-k`` forms we use),
and ``APACHE_CONFDIR`` so Debian's apache2ctl sources that tree's envvars.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from certkernel.sdk import MisconfigurationError, NoInstallationError

from .options import ApacheOptions

TIMEOUT = 60.0


@dataclass
class CtlResult:
    """Exit status and combined output of one command."""

    code: int
    output: str


class ApacheCtl:
    """The commands the installer runs against one server root."""

    def __init__(self, options: ApacheOptions) -> None:
        self.options = options

    def _run(self, program: str, args: list[str]) -> CtlResult:
        exe = shutil.which(program)
        if exe is None:
            raise NoInstallationError(
                f"cannot find {program!r}; install Apache or set --apache-ctl / --apache-bin"
            )
        env = dict(os.environ)
        env["APACHE_CONFDIR"] = str(self.options.server_root)
        cmd = [exe, *args, "-d", str(self.options.server_root), "-f", str(self.options.main_file)]
        try:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                env=env,
                timeout=TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise MisconfigurationError(
                f"{' '.join(cmd)} did not finish in {TIMEOUT:.0f} s"
            ) from exc
        return CtlResult(proc.returncode, (proc.stdout + proc.stderr).strip())

    def config_test(self) -> None:
        """``apache2ctl -t``; a failure carries httpd's own words."""
        result = self._run(self.options.ctl, ["-t"])
        if result.code != 0:
            raise MisconfigurationError(f"Apache config test failed: {_last_lines(result.output)}")

    def graceful(self) -> None:
        """``apache2ctl -k graceful``: reload without dropping connections."""
        result = self._run(self.options.ctl, ["-k", "graceful"])
        if result.code != 0:
            raise MisconfigurationError(
                f"Apache graceful restart failed: {_last_lines(result.output)}"
            )

    def version(self) -> tuple[int, ...]:
        """httpd's version from ``apache2 -v`` (e.g. ``(2, 4, 71)``)."""
        exe = shutil.which(self.options.bin)
        if exe is None:
            raise NoInstallationError(f"cannot find {self.options.bin!r}; set --apache-bin")
        out = subprocess.run(
            [exe, "-v"], capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
        ).stdout
        m = re.search(r"Apache/(\d+(?:\.\d+)+)", out)
        if not m:
            raise NoInstallationError(
                f"cannot read the Apache version from {exe} -v: {out.strip()!r}"
            )
        return tuple(int(p) for p in m.group(1).split("."))


def _last_lines(text: str, count: int = 6) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(no output)"
