"""The corpus manifest and its fetch script, and the tests' behaviour without a corpus.

The fetch runs against a local HTTP server laid out as raw.githubusercontent.com
is ({repository}/{commit}/{source path}), filled from the corpus on this machine,
so the download-and-verify path is exercised without the internet.  The
no-corpus behaviour runs the real corpus tests from a copy of the repository
with nothing beside it.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.corpus import MISSING, locate, require_corpus
from tests.infra.httpd import serving

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "fetch-corpus.py"
MANIFEST = REPO / "tests" / "corpus" / "MANIFEST.tsv"


def entries() -> list[list[str]]:
    return [line.split("\t") for line in MANIFEST.read_text().splitlines()
            if line and not line.startswith("#") and not line.startswith("corpus_path\t")]


def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def corpus() -> Path:
    require_corpus()
    root = locate()
    assert root is not None
    return root


def test_manifest_matches_the_corpus_byte_for_byte(corpus: Path) -> None:
    listed = {e[0] for e in entries()}
    on_disk = {str(p.relative_to(corpus)) for kind in ("nginx", "apache")
               for p in (corpus / kind).rglob("*") if p.is_file()}
    assert listed == on_disk
    proc = run(str(SCRIPT), "--verify", str(corpus))
    assert proc.returncode == 0, proc.stderr
    assert all(len(e[2]) == 40 and len(e[4]) == 40 for e in entries())


def _mirror(corpus: Path, root: Path) -> None:
    for corpus_path, repository, commit, source_path, _blob, _size in entries():
        target = root / repository / commit / source_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus / corpus_path, target)


def test_fetch_downloads_at_the_commit_and_verifies_blob_ids(corpus: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    _mirror(corpus, mirror)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    template = f"http://127.0.0.1:{server.server_address[1]}/{{repository}}/{{commit}}/{{source_path}}"
    dest = tmp_path / "fetched"
    with serving(server):
        good = run(str(SCRIPT), "--dest", str(dest), "--url-template", template)
        assert good.returncode == 0, good.stderr
        assert run(str(SCRIPT), "--verify", str(dest)).returncode == 0
        # a file that changed upstream (or in transit) is refused and named
        corpus_path, repository, commit, source_path, blob, _ = entries()[0]
        (mirror / repository / commit / source_path).write_bytes(b"tampered\n")
        (dest / corpus_path).unlink()
        bad = run(str(SCRIPT), "--dest", str(dest), "--url-template", template)
    assert bad.returncode == 1
    assert f"{corpus_path}: " in bad.stderr and f"manifest says {blob}; not kept" in bad.stderr
    assert not (dest / corpus_path).exists()


def _clone_without_corpus(tmp_path: Path) -> Path:
    """The repository's tracked files in a folder with no ../shared beside it."""
    clone = tmp_path / "lonely" / "certkernel"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)], check=True,
                   timeout=120, capture_output=True)
    # the working tree's uncommitted state is what is under test
    for rel in subprocess.run(["git", "ls-files", "-m", "-o", "--exclude-standard"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.split():
        src = REPO / rel
        if src.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, clone / rel)
    return clone


CORPUS_TESTS = ["tests/nginx/test_parser.py", "tests/apache/test_corpus.py"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CERTKERNEL_CORPUS", "CERTKERNEL_REQUIRE_CORPUS")}
    env.update(extra)
    return env


def test_without_corpus_the_corpus_tests_skip_with_the_reason(tmp_path: Path) -> None:
    clone = _clone_without_corpus(tmp_path)
    proc = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *CORPUS_TESTS, cwd=clone,
               env=_env())
    assert proc.returncode == 0, proc.stdout[-3000:]
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped and all(MISSING in line for line in skipped), proc.stdout[-3000:]
    assert " passed" in proc.stdout  # the repository's own configs still run
    # required (as .ci/run does): the same tests fail instead
    required = run("-m", "pytest", "-q", "-p", "no:cacheprovider", *CORPUS_TESTS, cwd=clone,
                   env=_env(CERTKERNEL_REQUIRE_CORPUS="1"))
    assert required.returncode == 1
    assert "CERTKERNEL_REQUIRE_CORPUS=1: CI must run them" in required.stdout
    # and $CERTKERNEL_CORPUS is the third place looked in
    if locate() is not None:
        found = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *CORPUS_TESTS,
                    cwd=clone, env=_env(CERTKERNEL_CORPUS=str(locate()),
                                        CERTKERNEL_REQUIRE_CORPUS="1"))
        assert found.returncode == 0, found.stdout[-3000:]
        assert "SKIPPED" not in found.stdout
