"""Private keys in the fleet store: sealed, bound to their place, useless without the key file."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from certkernel.errors import ConfigurationError, StorageError
from certkernel.fleet import store_key
from tests.infra.fleet import fleet_files, open_pg_store
from tests.infra.minica import MiniCA
from tests.infra.postgres import OWNER, ClusterInfo

PARAMS = {"authenticator": "standalone", "key_type": "ecdsa"}


def _key_body(pem: bytes) -> bytes:
    """The base64 body of a PEM key: what a leak would contain."""
    return b"".join(pem.strip().splitlines()[1:-1])


def test_the_database_alone_holds_no_private_key(pg_cluster: ClusterInfo, ca: MiniCA,
                                                 tmp_path: Path) -> None:
    store = open_pg_store(tmp_path, 10.0)
    issued = ca.issue(["sealed.example"])
    store.create("sealed.example", issued.cert, issued.chain, issued.fullchain, issued.key,
                 PARAMS)
    database = fleet_files(tmp_path).database
    with pg_cluster.connect(OWNER, database) as conn:
        dump = b"".join(bytes(cell) for row in conn.execute(
            "SELECT cert, chain, fullchain, private_key FROM versions").fetchall() for cell in row)
    assert b"PRIVATE KEY" not in dump
    assert _key_body(issued.key) not in dump
    assert base64.b64decode(_key_body(issued.key)) not in dump
    assert store.load("sealed.example").read("privkey") == issued.key


def test_a_host_with_another_key_file_is_told_so(pg_cluster: ClusterInfo, ca: MiniCA,
                                                 tmp_path: Path) -> None:
    issued = ca.issue(["keyed.example"])
    open_pg_store(tmp_path, 10.0).create("keyed.example", issued.cert, issued.chain,
                                         issued.fullchain, issued.key, PARAMS)
    (tmp_path / "store.key").write_text(store_key.new_key_text())  # the second host's own key
    other = open_pg_store(tmp_path, 10.0, config_dir=tmp_path / "host-b")
    with pytest.raises(StorageError) as caught:
        other.load("keyed.example")
    message = str(caught.value)
    assert "\n" not in message
    assert "sealed with another store key" in message
    assert "give every host of the fleet the same --store-key-file" in message
    assert not (tmp_path / "host-b" / "live" / "keyed.example").exists()


def test_a_key_moved_to_another_lineage_does_not_open(pg_cluster: ClusterInfo, ca: MiniCA,
                                                      tmp_path: Path) -> None:
    store = open_pg_store(tmp_path, 10.0)
    for name in ("victim.example", "attacker.example"):
        issued = ca.issue([name])
        store.create(name, issued.cert, issued.chain, issued.fullchain, issued.key, PARAMS)
    database = fleet_files(tmp_path).database
    with pg_cluster.connect(OWNER, database) as conn:  # someone who may write rows
        conn.execute("UPDATE versions SET private_key = (SELECT private_key FROM versions "
                     "WHERE lineage = 'victim.example') WHERE lineage = 'attacker.example'")
        conn.commit()
    reader = open_pg_store(tmp_path, 10.0, config_dir=tmp_path / "host-b")
    with pytest.raises(StorageError, match="altered or moved from another lineage"):
        reader.load("attacker.example")


@pytest.mark.parametrize("content", ["", "short", base64.b64encode(b"x" * 31).decode(),
                                     "not base64 at all!!"])
def test_a_bad_key_file_is_one_clear_line(tmp_path: Path, content: str) -> None:
    path = tmp_path / "store.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ConfigurationError) as caught:
        store_key.load(str(path))
    assert str(caught.value) == (
        f"--store-key-file: {path} must hold 32 random bytes in base64 on one line; "
        "make one with: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE")
