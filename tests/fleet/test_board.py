"""PgBoard: a key authorization published by one host is answered by another."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from certkernel.errors import ChallengeRefused
from certkernel.fleet.board import PgBoard
from tests.infra.fleet import fleet_files, open_pg_store
from tests.infra.postgres import HOST_ROLES, OWNER, ClusterInfo

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEYAUTH = TOKEN + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0bA3ZE9oP7Jh4U"


def _board(base: Path, role: str) -> PgBoard:
    return PgBoard(open_pg_store(base, 5.0, role=role, config_dir=base / role).db)


def test_published_on_one_host_answered_on_another(pg_cluster: ClusterInfo,
                                                   tmp_path: Path) -> None:
    orderer, responder = _board(tmp_path, HOST_ROLES[0]), _board(tmp_path, HOST_ROLES[1])
    assert responder.lookup(TOKEN) is None
    orderer.publish(TOKEN, KEYAUTH)
    orderer.publish(TOKEN, KEYAUTH)  # again: harmless
    assert responder.lookup(TOKEN) == KEYAUTH
    orderer.withdraw(TOKEN)
    orderer.withdraw(TOKEN)  # again: harmless
    assert responder.lookup(TOKEN) is None


@pytest.mark.parametrize("token", ["../../etc/passwd", "a b", "", "x" * 300, "tök"])
def test_something_not_a_token_is_never_answered(pg_cluster: ClusterInfo, tmp_path: Path,
                                                 token: str) -> None:
    """Even a row someone wrote straight into the table: the responder serves only tokens."""
    board = _board(tmp_path, HOST_ROLES[0])
    with pg_cluster.connect(OWNER, fleet_files(tmp_path).database, autocommit=True) as conn:
        conn.execute("INSERT INTO challenges (token, key_authorization) VALUES (%s, 'leak')",
                     (token,))
    assert board.lookup(token) is None


@pytest.mark.parametrize("token,keyauth", [("../x", "../x.abc"), (TOKEN, "other.abc"),
                                           (TOKEN, TOKEN), (TOKEN, TOKEN + ".a b")])
def test_publish_refuses_what_is_not_a_key_authorization(pg_cluster: ClusterInfo,
                                                         tmp_path: Path, token: str,
                                                         keyauth: str) -> None:
    with pytest.raises(ChallengeRefused, match="refused$"):
        _board(tmp_path, HOST_ROLES[0]).publish(token, keyauth)


def test_lookup_is_one_index_scan(pg_cluster: ClusterInfo, tmp_path: Path) -> None:
    board = _board(tmp_path, HOST_ROLES[0])
    for n in range(200):
        board.publish(f"t{n}", f"t{n}.thumb")
    with pg_cluster.connect(OWNER, fleet_files(tmp_path).database, autocommit=True) as conn:
        conn.execute("ANALYZE challenges")
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT key_authorization FROM challenges WHERE token = 't7'").fetchall())
    assert "Index Scan using challenges_pkey" in plan


def test_many_responder_threads_share_a_few_connections(pg_cluster: ClusterInfo,
                                                        tmp_path: Path) -> None:
    board = _board(tmp_path, HOST_ROLES[1])
    board.publish(TOKEN, KEYAUTH)
    answers: list[str | None] = []

    def request() -> None:
        answers.append(board.lookup(TOKEN))

    for _ in range(5):
        threads = [threading.Thread(target=request) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert answers == [KEYAUTH] * 100
    with pg_cluster.connect(OWNER, fleet_files(tmp_path).database) as conn:
        opened = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                              "AND application_name = 'certkernel board'",
                              (HOST_ROLES[1],)).fetchone()[0]
    assert opened <= 20 + 8
