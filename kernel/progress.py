"""Showing a plugin's ``$/progress`` notifications to the user.

Why: a DNS plugin may wait minutes for propagation; without a word the run
looks hung. Certbot prints such messages ("Waiting 60 seconds for DNS
changes to propagate") as plain lines on stdout unless ``--quiet``, and so
do we. Every message is also logged.

The text comes from a plugin process, which is untrusted: control
characters (terminal escapes, carriage returns, newlines) are replaced and
the line is cut to a bounded length, so a plugin cannot rewrite or hide
what is on the user's terminal. A message repeated verbatim is shown once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from certkernel.display import Display

logger = logging.getLogger(__name__)

MAX_CHARS = 300

OnProgress = Callable[[str, dict[str, Any]], None]


def clean(text: str) -> str:
    """One printable line of at most :data:`MAX_CHARS` characters."""
    out = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return out if len(out) <= MAX_CHARS else out[: MAX_CHARS - 3] + "..."


def format_progress(params: dict[str, Any]) -> str:
    """``message`` plus ``(done/total)`` when the plugin gave counts."""
    message = clean(str(params.get("message", "")))
    done, total = params.get("done"), params.get("total")
    if isinstance(done, int) and isinstance(total, int) and not isinstance(done, bool) \
            and not isinstance(total, bool) and total > 0:
        message += f" ({done}/{total})"
    return message


def printer(display: Display) -> OnProgress:
    """The ``on_progress`` callback of a command: lines on ``display`` (silent with -q)."""
    lock = threading.Lock()
    last: dict[str, str] = {}

    def show(plugin: str, params: dict[str, Any]) -> None:
        line = format_progress(params if isinstance(params, dict) else {})
        if not line:
            return
        logger.info("[%s] %s", plugin, line)
        with lock:
            if last.get(plugin) == line:
                return
            last[plugin] = line
            try:
                display.notification(line, wrap=False)
            except (OSError, ValueError):  # a closed stdout must not break the plugin's channel
                logger.debug("could not show progress", exc_info=True)

    return show
