"""``certkernel certonly -a fleet-http`` against real Pebble, answered by ``certkernel responder``.

What an operator checks: the certificate is issued, the CA's request was
answered by the responder (its log names the token), and the board is
empty afterwards, whether validation succeeded or failed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from certkernel.fleet.challenge_board import BOARD_DIR
from tests.infra.cli_run import Dirs, ck
from tests.infra.pebble import Pebble
from tests.infra.responder import ResponderProcess


@pytest.fixture
def site(tmp_path: Path, pebble: Pebble) -> Iterator[tuple[ResponderProcess, Dirs]]:
    """A responder on Pebble's http-01 port, and the dirs a certonly on the same host uses."""
    responder = ResponderProcess(tmp_path / "responder", port=pebble.http01_port).start()
    dirs = Dirs(tmp_path / "config", responder.work_dir, tmp_path / "logs")
    try:
        yield responder, dirs
    finally:
        status, _, err = responder.stop()
        assert status == 0, err


def board_of(dirs: Dirs) -> list[str]:
    return os.listdir(dirs.work / BOARD_DIR)


def answered(responder: ResponderProcess) -> list[str]:
    log = (responder.base / "logs" / "letsencrypt.log").read_text()
    return re.findall(r"responder: answered token (\S+) for 127\.0\.0\.1", log)


def names_in(dirs: Dirs, lineage: str) -> list[str]:
    cert = x509.load_pem_x509_certificate(
        (dirs.config / "live" / lineage / "cert.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(san.get_values_for_type(x509.DNSName))


@pytest.mark.parametrize("selector", [["-a", "fleet-http"], ["--fleet-http"]])
def test_certonly_through_the_responder_issues_and_leaves_the_board_empty(
        site: tuple[ResponderProcess, Dirs], pebble: Pebble, selector: list[str]) -> None:
    responder, dirs = site
    done = ck(dirs, "certonly", *selector, "-d", "fleet-a.example", "-d", "fleet-b.example",
              "--agree-tos", "-m", "ops@example.org", pebble=pebble)
    assert done.returncode == 0, done.stderr
    assert names_in(dirs, "fleet-a.example") == ["fleet-a.example", "fleet-b.example"]
    assert len(set(answered(responder))) == 2  # one token per name, served by the responder
    assert board_of(dirs) == []
    conf = (dirs.config / "renewal" / "fleet-a.example.conf").read_text()
    assert "authenticator = fleet-http" in conf


def test_a_failed_validation_also_leaves_the_board_empty(tmp_path: Path, pebble: Pebble) -> None:
    """The responder on Pebble's port serves another host's board: the CA gets 404."""
    elsewhere = ResponderProcess(tmp_path / "elsewhere", port=pebble.http01_port).start()
    dirs = Dirs.under(tmp_path / "host")
    try:
        done = ck(dirs, "certonly", "-a", "fleet-http", "-d", "fleet-fail.example",
                  "--agree-tos", "-m", "ops@example.org", pebble=pebble)
    finally:
        elsewhere.stop()
    assert done.returncode == 1
    assert "fleet-fail.example" in done.stderr
    assert "404" in done.stderr
    assert board_of(dirs) == []
    assert not (dirs.config / "live" / "fleet-fail.example").exists()
