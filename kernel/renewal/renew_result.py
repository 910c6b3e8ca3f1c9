"""What a renew run says about each lineage: its status and the reason.

Its own module because the ``renew`` verb reports on a run with nothing due
(the cron job's usual case) without importing the runner, and so without
the plugin host and the ACME engine behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """One lineage's outcome in a renew run (``--json`` maps it to its own words)."""

    RENEWED = "renewed"
    FAILED = "failed"
    NOT_DUE = "not due"


@dataclass
class Result:
    """The outcome for one lineage."""

    name: str
    status: Status
    fullchain: str
    names: list[str] = field(default_factory=list)
    reason: str = ""
