"""Two wheels and sdists (certkernel-sdk, certkernel) and one fresh venv per session.

The venv gets the certkernel wheel non-editable and its core dependencies
only (no extras; certkernel-sdk from the wheel built beside it), so every test here runs certkernel as an administrator who typed
``pip install certkernel`` would, with the source tree out of reach (cwd is a
temporary folder, no PYTHONPATH).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 600


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path
    sdk_wheel: Path  # certkernel-sdk, which certkernel depends on
    sdk_sdist: Path


@dataclass(frozen=True)
class InstalledVenv:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "REQUESTS_CA_BUNDLE", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}:/usr/sbin:/usr/bin:/sbin:/bin"
        return env

    def run(self, *argv: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "certkernel"), *argv], capture_output=True,
                              text=True, timeout=timeout, cwd=cwd, env=self.env(),
                              stdin=subprocess.DEVNULL, check=False)


def _run(argv: list[str], timeout: float, cwd: Path | None = None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          check=False)
    assert proc.returncode == 0, f"{argv} exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """``python -m build`` of certkernel-sdk and certkernel: each sdist, then its wheel built *from the sdist*.

    Building the wheel from the sdist proves the sdist is complete too.
    --no-isolation uses this venv's setuptools (the test extras pin it), so no
    network is needed for the build itself.
    """
    out = tmp_path_factory.mktemp("dist")
    for project in (REPO / "packaging" / "certkernel-sdk", REPO):
        _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
              str(project)], BUILD_TIMEOUT)
    wheels, sdists = list(out.glob("certkernel-*.whl")), list(out.glob("certkernel-*.tar.gz"))
    sdk_wheels, sdk_sdists = list(out.glob("certkernel_sdk-*.whl")), \
        list(out.glob("certkernel_sdk-*.tar.gz"))
    assert [len(wheels), len(sdists), len(sdk_wheels), len(sdk_sdists)] == [1, 1, 1, 1], \
        sorted(p.name for p in out.iterdir())
    return Dist(wheel=wheels[0], sdist=sdists[0], sdk_wheel=sdk_wheels[0], sdk_sdist=sdk_sdists[0])


@pytest.fixture(scope="session")
def installed(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> InstalledVenv:
    """A fresh venv with the wheel and its core dependencies, certkernel-sdk among them."""
    root = tmp_path_factory.mktemp("venv") / "ck"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(root)
    target = InstalledVenv(root)
    # certkernel-sdk is found beside the wheel (--find-links), as it would be on an index
    _run([str(target.python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
          "--find-links", str(dist.sdk_wheel.parent), str(dist.wheel)], INSTALL_TIMEOUT, cwd=root)
    return target
