"""A real Certbot 5.x for the compatibility tests, installed once per session.

Why a venv of its own: Certbot pins versions of ``acme``/``josepy`` that
need not match certkernel's, and the tests must run the very program
administrators have, from PyPI. Only pip touches the network; if it cannot
install Certbot the fixture fails with pip's own message (no silent skip).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CERTBOT_REQUIREMENT = "certbot>=5,<6"
INSTALL_TIMEOUT = 900


@pytest.fixture(scope="session")
def certbot_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the ``certbot`` program of a fresh venv holding Certbot 5.x."""
    venv = tmp_path_factory.mktemp("certbot-venv")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                   timeout=120, capture_output=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
         CERTBOT_REQUIREMENT],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    if install.returncode != 0:
        pytest.fail(f"pip install {CERTBOT_REQUIREMENT} failed:\n{install.stderr[-3000:]}")
    program = venv / "bin" / "certbot"
    version = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                             timeout=120, check=True)
    assert version.stdout.startswith("certbot 5."), version.stdout
    return program
