"""Crash consistency: every state a killed renewal can leave is repaired on load.

Two angles. First, each intermediate state of ``save_new_version`` is laid
down by hand on real files, exactly as a process killed at that instant
leaves it (archive files are atomic, so each is whole or absent, plus a temp
file; links switch one at a time). Second, a real child process renewing in a
loop is SIGKILLed at varied moments, and the directory it leaves is loaded.
In every case live/ must end up on one complete, matching set, and the next
renewal must succeed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certkernel.errors import CertStorageError
from certkernel.lineages import lineage_find
from certkernel.lineages.lineage_files import SWITCH_ORDER
from certkernel.lineages.storage import Lineage
from tests.infra.minica import CertSet, MiniCA
from tests.storage.checks import assert_live_set_ok

NAME = "example.com"
WRITE_ORDER = ("privkey", "cert", "chain", "fullchain")  # as storage writes them


def _setup(tmp_path: Path, ca: MiniCA) -> tuple[Lineage, CertSet]:
    issued = ca.issue([NAME])
    lineage = Lineage.create(str(tmp_path), NAME, issued.cert, issued.chain, issued.fullchain, issued.key, {})
    return lineage, ca.issue([NAME])


def _data(new: CertSet, kind: str) -> bytes:
    return {"cert": new.cert, "chain": new.chain, "fullchain": new.fullchain, "privkey": new.key}[kind]


def _leave_state(tmp_path: Path, new: CertSet, files: int, partial: bool, links: int) -> None:
    """Lay down what a kill leaves: ``files`` archive files of version 2 complete,
    optionally a half-written temp file for the next, and ``links`` switched."""
    archive = tmp_path / "archive" / NAME
    live = tmp_path / "live" / NAME
    for kind in WRITE_ORDER[:files]:
        (archive / f"{kind}2.pem").write_bytes(_data(new, kind))
        if kind == "privkey":
            os.chmod(archive / f"{kind}2.pem", 0o600)
    if partial and files < 4:
        kind = WRITE_ORDER[files]
        (archive / f".ck-tmp-{kind}2.pem.0123456789ab").write_bytes(_data(new, kind)[:37])
    for kind in SWITCH_ORDER[:links]:
        tmp = live / f".ck-tmp-{kind}.pem.abcdef012345"
        os.symlink(f"../../archive/{NAME}/{kind}2.pem", tmp)
        os.replace(tmp, live / f"{kind}.pem")
    if links < 4 and files == 4 and links > 0:
        # the next link's temp name may exist too (made, not yet renamed)
        kind = SWITCH_ORDER[links]
        os.symlink(f"../../archive/{NAME}/{kind}2.pem", live / f".ck-tmp-{kind}.pem.fedcba987654")


STATES = [
    (files, partial, 0) for files in range(5) for partial in (False, True) if not (files == 4 and partial)
] + [(4, False, links) for links in range(1, 5)]


@pytest.mark.parametrize(("files", "partial", "links"), STATES)
def test_every_interruption_point_is_repaired(
    tmp_path: Path, ca: MiniCA, files: int, partial: bool, links: int
) -> None:
    _lineage, new = _setup(tmp_path, ca)
    _leave_state(tmp_path, new, files, partial, links)
    loaded = Lineage.load(str(tmp_path), NAME)
    # Links untouched -> still version 1; links split or all moved -> the complete version 2.
    expected = 1 if links == 0 else 2
    assert loaded.version == expected
    assert assert_live_set_ok(str(tmp_path), NAME) == expected
    assert loaded.repaired == (0 < links < 4)
    third = ca.issue([NAME, "www.example.com"])
    version = loaded.save_new_version(third.cert, third.chain, third.fullchain, third.key)
    assert version == (3 if files else 2)
    assert assert_live_set_ok(str(tmp_path), NAME) == version
    assert Lineage.load(str(tmp_path), NAME).names == [NAME, "www.example.com"]


def test_split_links_never_pick_a_mismatched_set(tmp_path: Path, ca: MiniCA) -> None:
    """Version 2 exists whole but its key is not the cert's (hand edit, bad copy)."""
    _lineage, new = _setup(tmp_path, ca)
    wrong = CertSet(new.cert, new.chain, new.fullchain, ca.issue([NAME]).key)
    _leave_state(tmp_path, wrong, 4, False, 2)
    assert Lineage.load(str(tmp_path), NAME).version == 1
    assert_live_set_ok(str(tmp_path), NAME, 1)


def test_split_links_never_pick_a_bad_fullchain(tmp_path: Path, ca: MiniCA) -> None:
    _lineage, new = _setup(tmp_path, ca)
    bad = CertSet(new.cert, new.chain, new.cert, new.key)
    _leave_state(tmp_path, bad, 4, False, 3)
    assert Lineage.load(str(tmp_path), NAME).version == 1


def test_link_to_deleted_archive_file_is_repaired(tmp_path: Path, ca: MiniCA) -> None:
    lineage, new = _setup(tmp_path, ca)
    lineage.save_new_version(new.cert, new.chain, new.fullchain, new.key)
    os.unlink(tmp_path / "archive" / NAME / "chain2.pem")
    assert Lineage.load(str(tmp_path), NAME).version == 1
    assert_live_set_ok(str(tmp_path), NAME, 1)


def test_nothing_complete_is_an_error_naming_the_archive(tmp_path: Path, ca: MiniCA) -> None:
    _setup(tmp_path, ca)
    os.unlink(tmp_path / "archive" / NAME / "privkey1.pem")
    with pytest.raises(CertStorageError, match=f"archive/{NAME}"):
        Lineage.load(str(tmp_path), NAME)


def test_create_killed_before_its_conf_is_reused_not_collided(tmp_path: Path, ca: MiniCA) -> None:
    issued = ca.issue([NAME])
    Lineage.create(str(tmp_path), NAME, issued.cert, issued.chain, issued.fullchain, issued.key, {})
    os.unlink(tmp_path / "renewal" / f"{NAME}.conf")  # as if killed just before writing it
    assert lineage_find.scan(str(tmp_path)).lineages == []
    again = Lineage.create(str(tmp_path), NAME, issued.cert, issued.chain, issued.fullchain, issued.key, {})
    assert again.name == NAME and again.version == 2
    assert_live_set_ok(str(tmp_path), NAME, 2)


CHILD = r"""
import sys
from certkernel.lineages.storage import Lineage
config_dir, ready = sys.argv[1], sys.argv[2]
sets = []
for i in range(3):
    parts = [open(f"{config_dir}/../set{i}.{k}", "rb").read() for k in ("cert", "chain", "fullchain", "key")]
    sets.append(parts)
lineage = Lineage.load(config_dir, "example.com")
open(ready, "w").close()
i = 0
while True:
    cert, chain, fullchain, key = sets[i % 3]
    lineage.save_new_version(cert, chain, fullchain, key)
    i += 1
"""


def test_sigkill_during_real_renewals(tmp_path: Path, ca: MiniCA) -> None:
    """Kill a real process renewing in a loop, 12 times at varied moments."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    first = ca.issue([NAME])
    Lineage.create(str(config_dir), NAME, first.cert, first.chain, first.fullchain, first.key, {})
    for i in range(3):
        s = ca.issue([NAME, f"v{i}.example.com"])
        for kind, data in (("cert", s.cert), ("chain", s.chain), ("fullchain", s.fullchain), ("key", s.key)):
            (tmp_path / f"set{i}.{kind}").write_bytes(data)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    repairs = 0
    seen: list[int] = []
    for attempt in range(12):
        ready = tmp_path / f"ready{attempt}"
        proc = subprocess.Popen([sys.executable, str(script), str(config_dir), str(ready)])
        try:
            deadline = time.monotonic() + 20
            while not ready.exists():
                assert proc.poll() is None, "child died before renewing"
                assert time.monotonic() < deadline, "child never got ready"
                time.sleep(0.005)
            time.sleep(0.002 + 0.011 * attempt)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        loaded = Lineage.load(str(config_dir), NAME)
        repairs += loaded.repaired
        assert_live_set_ok(str(config_dir), NAME, loaded.version)
        seen.append(loaded.version)
    assert max(seen) > 1, "the child never completed a renewal"
    final = Lineage.load(str(config_dir), NAME)
    after = final.save_new_version(first.cert, first.chain, first.fullchain, first.key)
    assert_live_set_ok(str(config_dir), NAME, after)
    print(f"versions written: {after}, repairs needed: {repairs}")
