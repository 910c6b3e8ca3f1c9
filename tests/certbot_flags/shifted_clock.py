"""Run certkernel with its wall clock moved forward: ``python shifted_clock.py SECONDS ARGS...``.

Why: acme2certifier issues real 6-day certificates, and the question is
what ``renew`` decides days later. Only ``datetime.datetime.now`` (and
``utcnow``) move: everything in the kernel that asks "what time is it" for
renewal decisions goes through them, while sleeps, timeouts and the CA
itself keep real time. Patched before certkernel is imported.
"""

from __future__ import annotations

import datetime
import sys
from typing import Any

_REAL = datetime.datetime
_SHIFT = datetime.timedelta(seconds=float(sys.argv[1]))


class _Shifted(_REAL):
    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return _REAL.now(tz) + _SHIFT

    @classmethod
    def utcnow(cls) -> Any:
        return _REAL.utcnow() + _SHIFT


datetime.datetime = _Shifted  # type: ignore[misc]
sys.argv = ["certkernel", *sys.argv[2:]]

from certkernel.main import entry  # noqa: E402

entry()
