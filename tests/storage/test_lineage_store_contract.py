"""The ``LineageStore`` contract (certkernel.interfaces), checked against every backend.

Each test is what an engine relies on: the lineage it stored comes back whole,
a missing name is the documented ``LineageNotFound`` (one line), ``delete`` is
idempotent, a stale object never overwrites another writer's version, readers
see only complete versions while a writer works, and writers that take the
lock and re-check make exactly one new version. Backends are listed in
``tests/infra/store_backends.py``.
"""

from __future__ import annotations

import datetime
import threading
import time
from pathlib import Path

import pytest

from certkernel import crypto
from certkernel.errors import LineageNotFound, StorageError
from certkernel.interfaces import LineageStore
from certkernel.lineages.lineage_store import LocalStore
from certkernel.lock import held
from tests.infra.minica import MiniCA
from tests.infra.store_backends import BACKENDS, NEEDS, open_store

PARAMS = {"authenticator": "standalone", "installer": "None", "key_type": "ecdsa",
          "server": "https://ca.example/dir"}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LineageStore:
    if request.param in NEEDS:
        request.getfixturevalue(NEEDS[request.param])
    return open_store(str(request.param), tmp_path, 10.0)


def _create(store: LineageStore, ca: MiniCA, name: str, names: list[str]) -> bytes:
    issued = ca.issue(names)
    store.create(name, issued.cert, issued.chain, issued.fullchain, issued.key, PARAMS)
    return issued.cert


def test_put_get_list(store: LineageStore, ca: MiniCA) -> None:
    assert store.names() == []
    cert = _create(store, ca, "b.example", ["b.example", "www.b.example"])
    _create(store, ca, "a.example", ["a.example"])
    assert store.names() == ["a.example", "b.example"]
    lineage = store.load("b.example")
    assert lineage.name == "b.example"
    assert lineage.version == 1
    assert sorted(lineage.names) == ["b.example", "www.b.example"]
    assert lineage.read("cert") == cert
    assert crypto.key_matches_cert(lineage.read("privkey"), lineage.read("cert"))
    assert lineage.renewalparams.as_dict()["authenticator"] == "standalone"


def test_a_taken_name_gets_the_next_free_one(store: LineageStore, ca: MiniCA) -> None:
    _create(store, ca, "dup.example", ["dup.example"])
    issued = ca.issue(["dup.example"])
    second = store.create("dup.example", issued.cert, issued.chain, issued.fullchain,
                          issued.key, PARAMS)
    assert second.name == "dup.example-0001"
    assert store.names() == ["dup.example", "dup.example-0001"]
    assert store.load("dup.example").read("cert") != issued.cert


@pytest.mark.parametrize("name", ["missing.example", "../etc", ".hidden", ""])
def test_a_missing_name_is_lineage_not_found(store: LineageStore, ca: MiniCA, name: str) -> None:
    _create(store, ca, "present.example", ["present.example"])
    with pytest.raises(LineageNotFound) as caught:
        store.load(name)
    assert isinstance(caught.value, StorageError)  # the documented branch of the tree
    assert "\n" not in str(caught.value)
    assert "certificate" in str(caught.value)


def test_save_version_adds_the_next_version(store: LineageStore, ca: MiniCA) -> None:
    _create(store, ca, "v.example", ["v.example"])
    lineage = store.load("v.example")
    key = lineage.read("privkey")
    renewed = ca.issue(["v.example"], key=key)
    assert store.save_version(lineage, renewed.cert, renewed.chain, renewed.fullchain,
                              None) == 2
    current = store.load("v.example")
    assert current.version == 2
    assert current.read("cert") == renewed.cert
    assert current.read("privkey") == key  # key_pem=None keeps the key


def test_a_stale_object_never_overwrites_a_newer_version(store: LineageStore,
                                                          ca: MiniCA) -> None:
    _create(store, ca, "s.example", ["s.example"])
    first_reader = store.load("s.example")
    second_reader = store.load("s.example")
    one, two = ca.issue(["s.example"]), ca.issue(["s.example"])
    assert store.save_version(first_reader, one.cert, one.chain, one.fullchain, one.key) == 2
    assert store.save_version(second_reader, two.cert, two.chain, two.fullchain, two.key) == 3
    assert store.load("s.example").read("cert", 2) == one.cert
    assert store.load("s.example").read("cert") == two.cert


def test_save_renewalparams_replaces_them_and_repeats_harmlessly(store: LineageStore,
                                                                 ca: MiniCA) -> None:
    _create(store, ca, "p.example", ["p.example"])
    changed = {**PARAMS, "authenticator": "webroot"}
    for _ in range(2):
        store.save_renewalparams(store.load("p.example"), changed)
        assert store.load("p.example").renewalparams.as_dict()["authenticator"] == "webroot"
    assert store.load("p.example").version == 1


def test_delete_is_idempotent(store: LineageStore, ca: MiniCA) -> None:
    _create(store, ca, "gone.example", ["gone.example"])
    _create(store, ca, "kept.example", ["kept.example"])
    assert store.delete("gone.example") is True
    assert store.delete("gone.example") is False
    assert store.delete("never.example") is False
    assert store.names() == ["kept.example"]
    with pytest.raises(LineageNotFound):
        store.load("gone.example")
    assert store.load("kept.example").version == 1


def test_readers_see_only_complete_versions_while_a_writer_works(store: LineageStore,
                                                                 ca: MiniCA) -> None:
    _create(store, ca, "busy.example", ["busy.example"])
    sets = [ca.issue(["busy.example"]) for _ in range(8)]
    done = threading.Event()
    seen: list[tuple[int, bool]] = []

    def reader() -> None:
        while not done.is_set() and len(seen) < 5000:
            lineage = store.load("busy.example")
            seen.append((lineage.version, crypto.key_matches_cert(
                lineage.read("privkey"), lineage.read("cert"))))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for issued in sets:
            lineage = store.load("busy.example")
            with held(store.lock("busy.example")):
                store.save_version(lineage, issued.cert, issued.chain, issued.fullchain,
                                   issued.key)
    finally:
        done.set()
        thread.join(timeout=60)
    assert seen
    assert all(matches for _version, matches in seen)  # never a key from one version, cert from another
    assert store.load("busy.example").version == 9


def test_writers_that_recheck_under_the_lock_renew_once(store: LineageStore,
                                                        ca: MiniCA) -> None:
    """The pattern the renewal runner follows: plan, lock, re-read, act only if still due."""
    _create(store, ca, "once.example", ["once.example"])
    planned = store.load("once.example").version  # every writer planned on version 1
    renewed: list[int] = []
    start = threading.Barrier(4)

    def writer() -> None:
        issued = ca.issue(["once.example"])
        start.wait(timeout=30)
        with held(store.lock("once.example")):  # a new lock object: one per holder
            current = store.load("once.example")
            if current.version != planned:
                return  # another writer renewed it meanwhile
            renewed.append(store.save_version(current, issued.cert, issued.chain,
                                              issued.fullchain, issued.key))

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert renewed == [2]
    assert store.load("once.example").version == 2



def test_now_is_an_aware_utc_clock_that_moves(store: LineageStore) -> None:
    """What renew decides "due" by. Here the database runs on this machine's clock,
    so both backends agree with it (tests/fleet/test_renew_cli.py fakes the host's)."""
    first = store.now()
    time.sleep(0.05)
    later = store.now()
    assert first.utcoffset() == datetime.timedelta(0)
    assert later > first
    assert abs(first - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(seconds=5)


def test_local_delete_removes_a_lineage_too_broken_to_load(tmp_path: Path, ca: MiniCA) -> None:
    store = LocalStore(str(tmp_path / "etc"), 5.0)
    _create(store, ca, "broken.example", ["broken.example"])
    (tmp_path / "etc" / "archive" / "broken.example" / "cert1.pem").unlink()
    with pytest.raises(StorageError):
        store.load("broken.example")
    assert store.delete("broken.example") is True
    assert store.names() == []
    assert not (tmp_path / "etc" / "archive" / "broken.example").exists()
    assert not (tmp_path / "etc" / "live" / "broken.example").exists()
