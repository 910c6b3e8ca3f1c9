"""Check results and the printed report of ``certkernel plugin-check``.

Each result names the check, says PASS, FAIL or SKIP, and carries one line
a plugin author can act on: what was sent, what came back, and the section
of protocol/PROTOCOL.md that says what should have happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class CheckStatus(StrEnum):
    """A check's verdict, printed as is at the start of its line."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Result:
    """The outcome of one conformance check."""

    name: str
    status: CheckStatus
    detail: str
    section: str = ""

    def line(self, width: int) -> str:
        where = f" [PROTOCOL.md {self.section}]" if self.section and self.status is CheckStatus.FAIL else ""
        return f"{self.status}  {self.name.ljust(width)}  {self.detail}{where}"


@dataclass
class Report:
    """All results for one plugin, in the order the checks ran."""

    plugin: str
    results: list[Result] = field(default_factory=list)

    def add(self, name: str, status: CheckStatus, detail: str, section: str = "") -> Result:
        result = Result(name, status, detail, section)
        self.results.append(result)
        return result

    def ok(self, name: str, detail: str) -> Result:
        return self.add(name, CheckStatus.PASS, detail)

    def fail(self, name: str, detail: str, section: str = "") -> Result:
        return self.add(name, CheckStatus.FAIL, detail, section)

    def skip(self, name: str, detail: str) -> Result:
        return self.add(name, CheckStatus.SKIP, detail)

    def status_of(self, name: str) -> CheckStatus | None:
        for result in self.results:
            if result.name == name:
                return result.status
        return None

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status is CheckStatus.FAIL]

    def render(self) -> str:
        width = max((len(r.name) for r in self.results), default=0)
        lines = [r.line(width) for r in self.results]
        counts = {s: sum(1 for r in self.results if r.status is s) for s in CheckStatus}
        verdict = "conforms" if not self.failed else "does NOT conform"
        lines.append(
            f"plugin {self.plugin} {verdict}: {counts[CheckStatus.PASS]} passed, "
            f"{counts[CheckStatus.FAIL]} failed, {counts[CheckStatus.SKIP]} skipped"
        )
        return "\n".join(lines)
