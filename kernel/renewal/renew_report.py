"""``renew --json`` (schema ``certkernel.renew/1``) and the metrics written after a renew.

Built from the same plan and results the text summary uses, so the two
cannot disagree; docs/json.md documents the fields and tests/observe checks
them against a JSON Schema.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from certkernel.renewal.renew_result import Status

if TYPE_CHECKING:
    from certkernel.renewal.renew_result import Result
    from certkernel.renewal.renewal_plan import Plan

SCHEMA = "certkernel.renew/1"


class JsonOutcome(StrEnum):
    """A lineage's ``outcome`` in the JSON report; the totals count each, in this order."""

    RENEWED = "renewed"
    NOT_DUE = "not_due"
    FAILED = "failed"
    DISABLED = "disabled"


# A runner status -> its word in the report (a lineage renewed by another run
# meanwhile is not due for this one).
_OF_STATUS = {Status.RENEWED: JsonOutcome.RENEWED, Status.FAILED: JsonOutcome.FAILED,
              Status.NOT_DUE: JsonOutcome.NOT_DUE}


def _iso(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _entry(name: str, outcome: JsonOutcome, fullchain: str, expiry: datetime.datetime | None = None,
           error: str | None = None) -> dict[str, Any]:
    return {"name": name, "outcome": outcome, "fullchain_path": fullchain,
            "expiry": _iso(expiry) if expiry else None, "error": error}


def report(plan: Plan, results: Sequence[Result], dry_run: bool) -> dict[str, Any]:
    lineages = [_entry(item.name, JsonOutcome.NOT_DUE, item.fullchain_path, item.expiry)
                for item in plan.not_due]
    lineages += [_entry(item.name, JsonOutcome.DISABLED, item.fullchain_path, item.expiry)
                 for item in plan.disabled]
    for result in results:
        outcome = _OF_STATUS[result.status]
        lineages.append(_entry(result.name, outcome, result.fullchain,
                               error=result.reason if outcome is JsonOutcome.FAILED else None))
    lineages.sort(key=lambda e: e["name"])
    invalid = [{"renewal_conf": path, "reason": message} for path, message in plan.broken]
    totals = {str(outcome): sum(1 for e in lineages if e["outcome"] is outcome)
              for outcome in JsonOutcome}
    totals["invalid"] = len(invalid)
    return {"schema": SCHEMA, "dry_run": dry_run, "lineages": lineages, "invalid": invalid,
            "totals": totals}


def attempts(results: Sequence[Result]) -> dict[str, bool]:
    """lineage -> succeeded, for the lineages this run tried to renew."""
    return {r.name: r.status == Status.RENEWED for r in results
            if r.status in (Status.RENEWED, Status.FAILED)}
