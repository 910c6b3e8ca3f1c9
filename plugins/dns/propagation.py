"""Wait until the authoritative servers serve every TXT value, at most a given time.

Certbot sleeps ``--dns-*-propagation-seconds`` blindly. Here that value is a
maximum: we poll each authoritative server and return as soon as every value
is visible on every server. With no server to ask we fall back to the plain
sleep, so behaviour is never worse than Certbot's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from certkernel.plugins.dns.lookup import Nameserver, txt_values

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class PropagationResult:
    """How the wait ended, for logs and tests."""

    visible: bool
    waited: float
    polls: int = 0
    missing: dict[str, set[str]] = field(default_factory=dict)


def wait_for_txt(
    expected: Mapping[str, set[str]],
    servers: list[Nameserver],
    max_seconds: float,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PropagationResult:
    """Poll ``servers`` until each name in ``expected`` serves all its values.

    Returns early when everything is visible; otherwise after ``max_seconds``
    with ``visible=False`` (the CA may still succeed: some providers answer
    from servers we cannot see).
    """
    start = clock()
    deadline = start + max(0.0, max_seconds)
    if not servers:
        if max_seconds > 0:
            _say(progress, f"Waiting {max_seconds:g} seconds for DNS changes to propagate")
            sleep(max_seconds)
        return PropagationResult(False, clock() - start, 0, {k: set(v) for k, v in expected.items()})

    interval = 0.1
    polls = 0
    missing: dict[str, set[str]] = {}
    while True:
        polls += 1
        missing = _missing(expected, servers)
        if not missing:
            waited = clock() - start
            log.info("TXT records visible on %d server(s) after %.2fs", len(servers), waited)
            return PropagationResult(True, waited, polls, {})
        now = clock()
        if now >= deadline:
            log.warning(
                "TXT records not yet visible after %.0fs on %s; asking the CA anyway",
                max_seconds, ", ".join(str(s) for s in servers),
            )
            return PropagationResult(False, now - start, polls, missing)
        if polls == 1 or polls % 10 == 0:
            _say(progress, f"Waiting for {len(missing)} TXT record(s) to appear on "
                           f"{', '.join(str(s) for s in servers)} (at most {max_seconds:g}s)")
        sleep(min(interval, max(0.0, deadline - now)))
        interval = min(interval * 1.5, 2.0)


def _missing(expected: Mapping[str, set[str]], servers: list[Nameserver]) -> dict[str, set[str]]:
    missing: dict[str, set[str]] = {}
    for name, values in expected.items():
        for server in servers:
            served = txt_values(server, name, timeout=1.0)
            absent = set(values) - (served or set())
            if absent:
                missing.setdefault(name, set()).update(absent)
    return missing


def _say(progress: Progress | None, message: str) -> None:
    log.info("%s", message)
    if progress is not None:
        progress(message)
