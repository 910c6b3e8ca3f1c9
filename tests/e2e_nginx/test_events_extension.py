"""An events extension installed as a real package sees certonly, run and renew alike.

The extension is built from source and pip-installed (offline, into a
``--target`` folder put on the CLI's PYTHONPATH) with a ``certkernel.events``
entry point, exactly as an extension author ships one; then ``certonly``,
``run`` (nginx installs) and ``renew`` run against Pebble and a real nginx,
and the extension's log shows each lifecycle event in the order it fired.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.e2e_site import REPO
from tests.infra.nginx_site import Site
from tests.infra.pebble import free_port

PROBE = '''\
"""Writes every certkernel lifecycle event as one JSON line to $PROBE_LOG."""
import json
import os

import pluggy

hookimpl = pluggy.HookimplMarker("certkernel")


def _log(event, **fields):
    with open(os.environ["PROBE_LOG"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"event": event, **fields}) + "\\n")


@hookimpl
def run_starting(verb):
    _log("run_starting", verb=verb)


@hookimpl
def before_obtain(names, lineage_name):
    _log("before_obtain", names=list(names), lineage=lineage_name)


@hookimpl
def lineage_obtained(lineage, names):
    _log("lineage_obtained", names=list(names), lineage=lineage.name)


@hookimpl
def lineage_renewed(lineage, names, dry_run):
    _log("lineage_renewed", names=list(names), lineage=lineage.name, dry_run=dry_run)


@hookimpl
def renewal_failed(lineage_name, names, reason):
    _log("renewal_failed", names=list(names), lineage=lineage_name)


@hookimpl
def lineage_deployed(lineage, names):
    _log("lineage_deployed", names=list(names), lineage=lineage.name,
         live=os.path.isfile(lineage.fullchain_path))


@hookimpl
def run_finished(verb, failed_names):
    _log("run_finished", verb=verb, failed=list(failed_names))
'''

PYPROJECT = '''\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "ck-events-probe"
version = "1.0"

[project.entry-points."certkernel.events"]
probe = "ck_events_probe"

[tool.setuptools]
py-modules = ["ck_events_probe"]
'''


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install the extension package; return the log its events go to."""
    src = tmp_path / "probe-src"
    src.mkdir()
    (src / "ck_events_probe.py").write_text(PROBE)
    (src / "pyproject.toml").write_text(PYPROJECT)
    target = tmp_path / "probe-site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-build-isolation", "--no-deps", "--no-index", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert list(target.glob("ck_events_probe-1.0.dist-info/entry_points.txt"))
    log = tmp_path / "events.jsonl"
    monkeypatch.setenv("PYTHONPATH", str(target))
    monkeypatch.setenv("PROBE_LOG", str(log))
    return log


def _events(log: Path) -> list[dict[str, object]]:
    lines = log.read_text().splitlines() if log.exists() else []
    log.write_text("")
    return [json.loads(line) for line in lines]


def test_extension_sees_certonly_run_and_renew(site: Site, probe: Path) -> None:
    done = site.cli("certonly", "--nginx", "-d", "example.test")
    assert done.returncode == 0, done.stderr
    assert _events(probe) == [
        {"event": "run_starting", "verb": "certonly"},
        {"event": "before_obtain", "names": ["example.test"], "lineage": "example.test"},
        {"event": "lineage_obtained", "names": ["example.test"], "lineage": "example.test"},
        {"event": "lineage_deployed", "names": ["example.test"], "lineage": "example.test",
         "live": True},
        {"event": "run_finished", "verb": "certonly", "failed": []},
    ]

    done = site.cli("run", "--nginx", "-d", "www.example.test")
    assert done.returncode == 0, done.stderr
    assert "Successfully deployed certificate for www.example.test" in done.stdout
    assert _events(probe) == [
        {"event": "run_starting", "verb": "run"},
        {"event": "before_obtain", "names": ["www.example.test"], "lineage": "www.example.test"},
        {"event": "lineage_obtained", "names": ["www.example.test"],
         "lineage": "www.example.test"},
        {"event": "lineage_deployed", "names": ["www.example.test"],
         "lineage": "www.example.test", "live": True},
        {"event": "run_finished", "verb": "run", "failed": []},
    ]

    # The same certificate again, forced: certonly renews the existing lineage.
    done = site.cli("certonly", "--nginx", "-d", "example.test", "--force-renewal")
    assert done.returncode == 0, done.stderr
    assert [e["event"] for e in _events(probe)] == [
        "run_starting", "before_obtain", "lineage_renewed", "lineage_deployed", "run_finished"]

    done = site.cli("renew", "--force-renewal", "--no-random-sleep-on-renew")
    assert done.returncode == 0, done.stderr
    events = _events(probe)
    assert events[0] == {"event": "run_starting", "verb": "renew"}
    assert events[-1] == {"event": "run_finished", "verb": "renew", "failed": []}
    per_lineage = sorted((str(e["lineage"]), str(e["event"])) for e in events[1:-1])
    assert per_lineage == sorted(
        (name, event) for name in ("example.test", "www.example.test")
        for event in ("before_obtain", "lineage_renewed", "lineage_deployed"))
    renewed = [e for e in events if e["event"] == "lineage_renewed"]
    assert [e["dry_run"] for e in renewed] == [False, False]


def test_extension_sees_a_failed_obtain(site: Site, probe: Path) -> None:
    # The challenge is set up on a port the CA does not look at: the order fails.
    argv = site.argv("certonly", "--nginx", "-d", "example.test")
    argv[argv.index("--http-01-port") + 1] = str(free_port())
    done = subprocess.run([sys.executable, "-m", "certkernel", *argv], capture_output=True,
                          text=True, timeout=180, cwd=REPO, check=False)
    assert done.returncode == 1, done.stdout
    events = _events(probe)
    assert [e["event"] for e in events] == [
        "run_starting", "before_obtain", "renewal_failed", "run_finished"]
    assert events[-1] == {"event": "run_finished", "verb": "certonly", "failed": ["example.test"]}
