"""Where the nginx/Apache config corpus is, and what a corpus test does without one.

The corpus is other projects' files: the repository holds only its manifest
(tests/corpus/MANIFEST.tsv).  Looked for, in order: ``../shared/corpus``
beside the checkout (CI and this machine), ``tests/corpus/fetched`` (made by
``scripts/fetch-corpus.py``), ``$CERTKERNEL_CORPUS``.  With none, corpus tests
skip with :data:`MISSING` -- or fail, when ``CERTKERNEL_REQUIRE_CORPUS=1``
(.ci/run sets it: CI has the corpus, so a skip there would hide a regression).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FETCHED = REPO / "tests" / "corpus" / "fetched"
ENV = "CERTKERNEL_CORPUS"
REQUIRE_ENV = "CERTKERNEL_REQUIRE_CORPUS"
MISSING = ("corpus tests skipped: no corpus in ../shared/corpus, tests/corpus/fetched or "
           "$CERTKERNEL_CORPUS; fetch it with: python scripts/fetch-corpus.py")


def candidates() -> list[Path]:
    found = [REPO.parent / "shared" / "corpus", FETCHED]
    if os.environ.get(ENV):
        found.append(Path(os.environ[ENV]))
    return found


def locate() -> Path | None:
    """The first candidate holding both halves of the corpus."""
    for root in candidates():
        if (root / "nginx").is_dir() and (root / "apache").is_dir():
            return root
    return None


def corpus_dir(kind: str) -> Path:
    """``<corpus>/<kind>``; a path that does not exist when there is no corpus."""
    root = locate()
    return root / kind if root is not None else REPO / "tests" / "corpus" / "missing" / kind


def require_corpus() -> None:
    """Skip (or, in CI, fail) the calling test when there is no corpus."""
    if locate() is not None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{MISSING} ({REQUIRE_ENV}=1: CI must run them)")
    pytest.skip(MISSING)


def params(files: list[str]) -> list[str]:
    """Parametrize over ``files``, or one placeholder whose test skips with the reason."""
    return files if files else ["<no corpus>"]
