"""What an http-01 token and key authorization look like (RFC 8555 §8.1, §8.3).

Every board (the local one and the fleet store's) refuses the same values with
the same words, and the responder answers only tokens of this shape; one
module, imported by all of them, keeps that one rule.
"""

from __future__ import annotations

import re

from certkernel import errors

MAX_TOKEN = 256
MAX_THUMBPRINT = 128  # a SHA-256 JWK thumbprint is 43 characters; room for longer digests
MAX_KEY_AUTHORIZATION = MAX_TOKEN + 1 + MAX_THUMBPRINT
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def valid_token(token: object) -> bool:
    """Whether ``token`` is a base64url string ACME could have sent (RFC 8555 §8.3)."""
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN \
        and _BASE64URL.fullmatch(token) is not None


def valid_key_authorization(token: str, key_authorization: object) -> bool:
    """Whether ``key_authorization`` is ``token "." thumbprint`` (RFC 8555 §8.1)."""
    if not isinstance(key_authorization, str) or len(key_authorization) > MAX_KEY_AUTHORIZATION:
        return False
    head, dot, thumbprint = key_authorization.partition(".")
    return bool(dot) and head == token and len(thumbprint) <= MAX_THUMBPRINT \
        and _BASE64URL.fullmatch(thumbprint) is not None


def check_challenge(token: str, key_authorization: str | None = None) -> None:
    """Raise ``ChallengeRefused`` unless the token (and key authorization) have ACME's shape.

    Every board calls this before it stores or removes anything, so the
    same values are refused whatever the board (local or shared).
    """
    if not valid_token(token):
        raise errors.ChallengeRefused(
            f"{token!r:.80} is not an ACME token (1 to {MAX_TOKEN} characters of "
            "A-Z a-z 0-9 - _); refused")
    if key_authorization is not None and not valid_key_authorization(token, key_authorization):
        raise errors.ChallengeRefused(
            f"the key authorization for token {token} is not '{token}.<thumbprint>' "
            "(base64url); refused")
