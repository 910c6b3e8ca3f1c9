"""Provider SDKs are optional extras; say which ``pip install`` adds a missing one.

The core install leaves out boto3 and dns-lexicon (they are most of a venv's
size). A provider checks for its SDK in ``prepare`` -- before any order is
placed -- and fails with one line naming the command for *this* interpreter,
so the fix works whether certkernel lives in a venv, pipx or the system.
"""

from __future__ import annotations

import importlib.util
import sys

from certkernel.sdk import MisconfigurationError


def install_hint(extra: str) -> str:
    """The command that adds ``certkernel[extra]`` to the running interpreter's environment."""
    return f"{sys.executable} -m pip install 'certkernel[{extra}]'"


def require(module: str, extra: str) -> None:
    """Raise a one-line MisconfigurationError unless ``module`` can be imported.

    The kernel prefixes a plugin's error with the plugin's name, so the
    message does not repeat it.
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MisconfigurationError(
            f"needs the '{extra}' extra ({module} is not installed): "
            f"run {install_hint(extra)}"
        )
