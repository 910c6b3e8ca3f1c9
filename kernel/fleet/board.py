"""``PgBoard``: pending http-01 key authorizations in the fleet store.

Why: behind a load balancer the CA's validation request for a token may
reach any host, not the one that ordered. The ordering host publishes the
key authorization here (the ``-a fleet-http`` authenticator asks the kernel
to), and the responder on every host answers from here.

Satisfies the ``ChallengeBoard`` seam (publish, withdraw, lookup):

- ``publish`` and ``withdraw`` are one statement each, so one transaction:
  another host sees the key authorization whole, or not at all. Publishing
  a token again replaces its value; withdrawing a missing token is harmless.
- ``lookup`` is one primary-key query (the responder runs it on every
  request). A token that is not a base64url string answers ``None`` without
  reaching the database, so the responder serves nothing but tokens.
- Every method raises ``StoreUnavailable`` (a ``StorageError``) when the
  store cannot be reached, and ``ValidationError`` for a malformed token or
  key authorization given to ``publish``.
- Safe from many threads at once (connections come from a small pool).
"""

from __future__ import annotations

from dataclasses import dataclass

from certkernel.fleet.challenge_shape import (
    check_challenge,
    valid_key_authorization,
    valid_token,
)
from certkernel.fleet.connect import Database


@dataclass
class PgBoard:
    db: Database

    def publish(self, token: str, key_authorization: str) -> None:
        check_challenge(token, key_authorization)
        with self.db.borrowed() as conn:
            conn.execute("""INSERT INTO challenges (token, key_authorization) VALUES (%s, %s)
                ON CONFLICT (token) DO UPDATE SET key_authorization = EXCLUDED.key_authorization,
                    published_by = current_user, created_at = now()""",
                         (token, key_authorization))

    def withdraw(self, token: str) -> None:
        check_challenge(token)
        with self.db.borrowed() as conn:
            conn.execute("DELETE FROM challenges WHERE token = %s", (token,))

    def lookup(self, token: str) -> str | None:
        if not valid_token(token):
            return None
        with self.db.borrowed() as conn:
            row = conn.execute("SELECT key_authorization FROM challenges WHERE token = %s",
                               (token,)).fetchone()
        if row is None or not valid_key_authorization(token, row[0]):
            return None  # a row written around the kernel is never served
        return str(row[0])
