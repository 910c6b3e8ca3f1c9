"""The CLI runner and file checks shared by the renew tests (fixtures are in conftest)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.infra.pebble_authz import forget_authorizations

if TYPE_CHECKING:
    from tests.infra.pebble import Pebble
    from tests.renew.conftest import Served

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 180.0


@dataclass
class Host:
    """One machine's certkernel directories, and the CLI run against them."""

    served: Served
    base: Path

    @property
    def config_dir(self) -> Path:
        return self.base / "etc"

    def dirs(self) -> list[str]:
        return ["--config-dir", str(self.config_dir), "--work-dir", str(self.base / "work"),
                "--logs-dir", str(self.base / "logs")]

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "certkernel", *args, *self.dirs(), "-n"]

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("REQUESTS_CA_BUNDLE", None)
        env.update(extra or {})
        return env

    def run(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True,
                              env=self.env(env), timeout=timeout, cwd=REPO,
                              stdin=subprocess.DEVNULL)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(env),
                                cwd=REPO, stdin=subprocess.DEVNULL, start_new_session=True)

    def renew(self, *args: str, env: dict[str, str] | None = None,
              timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return self.run("renew", "--no-random-sleep-on-renew", *args, env=env, timeout=timeout)

    def issue(self, *names: str, extra: tuple[str, ...] = ()) -> str:
        """``certonly -a webroot`` for ``names``; returns the lineage name.

        The order's authorizations are then deactivated, so a later renewal
        proves every name again (see :meth:`forget_authorizations`).
        """
        pebble = self.served.pebble
        domain_args = [a for n in names for a in ("-d", n)]
        result = self.run(
            "certonly", "-a", "webroot", "-w", str(self.served.webroot), *domain_args,
            "--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle,
            "--agree-tos", "-m", "renew@example.org", *extra,
        )
        assert result.returncode == 0, result.stderr
        self.forget_authorizations()
        return names[0]

    def forget_authorizations(self, pebble: Pebble | None = None) -> None:
        """Deactivate this host's valid authorizations on ``pebble`` (default: its own).

        Pebble reuses one for about 1 in 100 names even with
        ``PEBBLE_AUTHZREUSE=0``, and certkernel rightly skips a valid one: a
        test that renews names it issued and checks how they were proved
        (or that a broken web root fails) would then fail or pass vacuously.
        """
        found = forget_authorizations(self.config_dir, pebble or self.served.pebble)
        assert found, "no valid authorization to forget: were the set-up orders made?"

    def conf_path(self, name: str) -> Path:
        return self.config_dir / "renewal" / f"{name}.conf"

    def make_due(self, name: str, interval: str = "1900 days") -> None:
        """Pebble certs live 5 years: a huge renew_before_expiry makes them due now."""
        path = self.conf_path(name)
        text = path.read_text()
        text, count = re.subn(r"^#?\s*renew_before_expiry\s*=.*$",
                              f"renew_before_expiry = {interval}", text, flags=re.M)
        if not count:
            text = f"renew_before_expiry = {interval}\n" + text
        path.write_text(text)

    def link_versions(self, name: str) -> dict[str, int | None]:
        """The archive version each live link points at (None when it dangles)."""
        out: dict[str, int | None] = {}
        for kind in ("cert", "chain", "fullchain", "privkey"):
            link = self.config_dir / "live" / name / f"{kind}.pem"
            target = os.readlink(link)
            match = re.search(rf"{kind}(\d+)\.pem$", target)
            out[kind] = int(match.group(1)) if match and (link.parent / target).exists() else None
        return out

    def version(self, name: str) -> int:
        versions = set(self.link_versions(name).values())
        assert len(versions) == 1, versions
        (only,) = versions
        assert only is not None
        return only

    def archive_versions(self, name: str) -> list[int]:
        found = {int(m.group(1)) for p in (self.config_dir / "archive" / name).iterdir()
                 if (m := re.fullmatch(r"cert(\d+)\.pem", p.name))}
        return sorted(found)


def hook_script(path: Path, log: Path, label: str, body: str = "") -> Path:
    """An executable that appends ``label`` and the hook variables to ``log``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/bin/sh\n"
        f"{body}\n"
        f"echo \"{label} lineage=${{RENEWED_LINEAGE:-}} domains=${{RENEWED_DOMAINS:-}} "
        f"failed=${{FAILED_DOMAINS:-}}\" >> {log}\n"
    )
    path.chmod(0o755)
    return path


def log_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []
