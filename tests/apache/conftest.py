"""Fixtures for the Apache plugin tests: private apache2 trees on loopback ports."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.apache.helpers import FileCheckpoints
from tests.infra.apache import ApacheServer, DebianTree, free_port, readable_tempdir
from tests.infra.corpus import corpus_dir

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "tests" / "apache" / "configs"
CORPUS = corpus_dir("apache")  # ../shared/corpus, the fetched copy or $CERTKERNEL_CORPUS

SITE = """<VirtualHost 127.0.0.1:{port}>
    ServerName example.test
    ServerAlias www.example.test
    DocumentRoot {var}/htdocs
</VirtualHost>
"""
OTHER = """<VirtualHost 127.0.0.1:{port}>
    ServerName other.test
    DocumentRoot {var}/htdocs
</VirtualHost>
"""


@dataclass
class LiveApache:
    """A running private apache2 with a Debian tree, and the ports it uses."""

    base: Path
    root: Path
    server: ApacheServer
    http_port: int
    https_port: int
    checkpoints: FileCheckpoints


@pytest.fixture
def live_apache() -> Iterator[LiveApache]:
    """A fresh tree and apache2 per test: tests change configs, so none is shared."""
    base = readable_tempdir()
    root = base / "apache2"
    http_port, https_port = free_port(), free_port()
    conf = DebianTree(root, http_port, {"example.conf": SITE, "other.conf": OTHER}).build()
    server = ApacheServer(root, conf)
    server.start([http_port])
    try:
        yield LiveApache(base, root, server, http_port, https_port, FileCheckpoints())
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
