"""A file-backup checkpoint store for driving the plugin through KernelServices.

The kernel's own reverter is being written in another room; until it lands
this answers ``checkpoint/*`` the way PROTOCOL.md 5.5 describes (copy the
bytes at registration, delete registered new files on revert), and records
what it was given so tests can prove registration happened before writing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class _Point:
    saved: dict[str, bytes] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    title: str = ""


@dataclass
class FileCheckpoints:
    finalized: list[_Point] = field(default_factory=list)
    current: _Point = field(default_factory=_Point)
    temporary: _Point = field(default_factory=_Point)
    log: list[tuple[str, str, bytes | None]] = field(default_factory=list)

    def _point(self, temporary: bool) -> _Point:
        return self.temporary if temporary else self.current

    def add(self, files: Sequence[str], temporary: bool = False, *,
            roots: Sequence[str] = (), installer: object = None) -> None:
        point = self._point(temporary)
        for path in files:
            with open(path, "rb") as fh:
                data = fh.read()
            point.saved.setdefault(path, data)
            self.log.append(("add", path, data))

    def register_new(self, files: Sequence[str], temporary: bool = False, *,
                     roots: Sequence[str] = (), installer: object = None) -> None:
        point = self._point(temporary)
        for path in files:
            assert not os.path.exists(path), f"{path} registered as new but exists"
            point.created.append(path)
            self.log.append(("new", path, None))

    def finalize(self, title: str) -> None:
        if self.current.saved or self.current.created:
            self.current.title = title
            self.finalized.append(self.current)
        self.current = _Point()

    @staticmethod
    def _restore(point: _Point) -> None:
        for path, data in point.saved.items():
            with open(path, "wb") as fh:
                fh.write(data)
        for path in point.created:
            if os.path.exists(path):
                os.unlink(path)

    def revert_temporary(self) -> None:
        self._restore(self.temporary)
        self.temporary = _Point()

    def rollback(self, count: int) -> None:
        for _ in range(count):
            if self.finalized:
                self._restore(self.finalized.pop())
