#!/usr/bin/env python3
"""Fetch the nginx/Apache config corpus at the pinned commits, verifying every blob id.

The corpus is other projects' files, so the repository commits only its
manifest (tests/corpus/MANIFEST.tsv: corpus path, repository, commit, source
path, git blob id, size).  With a network, this script downloads each file
at its commit and keeps it only if its git blob id (SHA-1 of ``blob <size>\\0``
+ bytes) matches, so the tests read exactly the bytes the manifest names.

    python scripts/fetch-corpus.py                  # -> tests/corpus/fetched/
    python scripts/fetch-corpus.py --dest DIR
    python scripts/fetch-corpus.py --verify DIR     # check a corpus folder, no network
    python scripts/fetch-corpus.py --write-manifest ../shared/corpus/SOURCES.md

Tests look for the corpus in ../shared/corpus, then tests/corpus/fetched,
then $CERTKERNEL_CORPUS (tests/infra/corpus.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "corpus" / "MANIFEST.tsv"
DEFAULT_DEST = ROOT / "tests" / "corpus" / "fetched"
URL_TEMPLATE = "https://raw.githubusercontent.com/{repository}/{commit}/{source_path}"
COLUMNS = ("corpus_path", "repository", "commit", "source_path", "blob", "bytes")
TIMEOUT = 30
MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Entry:
    corpus_path: str
    repository: str
    commit: str
    source_path: str
    blob: str
    size: int


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's id


def read_manifest(path: Path = MANIFEST) -> list[Entry]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        cells = line.split("\t")
        if cells[0] == COLUMNS[0]:
            continue
        if len(cells) != len(COLUMNS):
            raise SystemExit(f"{path}:{number}: expected {len(COLUMNS)} tab-separated columns")
        corpus_path, repository, commit, source_path, blob, size = cells
        entries.append(Entry(corpus_path, repository, commit, source_path, blob, int(size)))
    return entries


def _safe_rel(rel: str) -> Path:
    """A manifest path must stay inside the destination: no absolute path, no '..'."""
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or ".." in parts:
        raise SystemExit(f"refusing manifest path {rel!r}")
    return Path(*parts)


def write_manifest(sources_md: Path, out: Path = MANIFEST) -> int:
    """Turn SOURCES.md's file table into the TSV (facts only: no file content)."""
    rows = []
    for line in sources_md.read_text(encoding="utf-8").splitlines():
        if not re.match(r"^\| `(apache|nginx)/[^`]*[^/]`", line):
            continue
        cells = [c.strip().strip("`") for c in line.split("|")[1:-1]]
        corpus_path, repository, source_path, commit = cells[0], cells[1], cells[2], cells[3]
        blob, size = cells[6], cells[7]
        rows.append("\t".join((corpus_path, repository, commit, source_path, blob, size)))
    out.parent.mkdir(parents=True, exist_ok=True)
    header = ("# The nginx/Apache config corpus: each file's repository, commit, path and git blob id.\n"
              "# Generated from ../shared/corpus/SOURCES.md; fetch with scripts/fetch-corpus.py.\n")
    out.write_text(header + "\t".join(COLUMNS) + "\n" + "\n".join(sorted(rows)) + "\n")
    print(f"wrote {len(rows)} entries to {out}")
    return 0


def verify(folder: Path, entries: list[Entry]) -> list[str]:
    """Problems of ``folder`` against the manifest (empty list: every file present and exact)."""
    problems = []
    for entry in entries:
        path = folder / _safe_rel(entry.corpus_path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(f"{entry.corpus_path}: {exc.strerror}")
            continue
        if blob_id(data) != entry.blob:
            problems.append(f"{entry.corpus_path}: blob {blob_id(data)}, manifest says {entry.blob}")
    return problems


def fetch(dest: Path, entries: list[Entry], template: str) -> list[str]:
    problems = []
    for entry in entries:
        url = template.format(repository=entry.repository, commit=entry.commit,
                              source_path=urllib.parse.quote(entry.source_path))
        target = dest / _safe_rel(entry.corpus_path)
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310
                data = response.read(MAX_BYTES + 1)
        except OSError as exc:
            problems.append(f"{entry.corpus_path}: cannot fetch {url}: {exc}")
            continue
        if blob_id(data) != entry.blob:
            problems.append(f"{entry.corpus_path}: {url} has blob {blob_id(data)}, "
                            f"manifest says {entry.blob}; not kept")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--url-template", default=URL_TEMPLATE,
                        help="where a file lives: {repository}, {commit}, {source_path}")
    parser.add_argument("--verify", type=Path, metavar="DIR", help="check DIR, fetch nothing")
    parser.add_argument("--write-manifest", type=Path, metavar="SOURCES_MD")
    args = parser.parse_args(argv)
    if args.write_manifest:
        return write_manifest(args.write_manifest, args.manifest)
    entries = read_manifest(args.manifest)
    if args.verify:
        problems = verify(args.verify, entries)
        what = f"{args.verify} matches the manifest ({len(entries)} files)"
    else:
        problems = fetch(args.dest, entries, args.url_template)
        what = f"fetched {len(entries)} files into {args.dest}, every blob id verified"
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} of {len(entries)} files failed", file=sys.stderr)
        return 1
    print(what)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
