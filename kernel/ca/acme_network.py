"""The signed HTTP transport under :class:`certkernel.ca.acme_session.AcmeSession`.

Which JWS algorithm an account key signs with, a ``ClientNetwork`` that
retries the CA's ``badNonce`` answers a bounded number of times, and the one
line for an HTTP answer that is not ACME at all. ``acme``/``josepy`` are
imported inside the functions, as everywhere in the kernel.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from certkernel import errors

if TYPE_CHECKING:
    import requests
    from acme import client as acme_client
    from josepy.jwa import JWASignature
    from josepy.jwk import JWK

    from certkernel.ca.acme_session import PollStats, SessionSettings

logger = logging.getLogger(__name__)


def jws_algorithm(key: JWK) -> JWASignature:
    """The JWS algorithm a key signs with (RS256, or ES256/384/512 by curve)."""
    from josepy.jwa import ES256, ES384, ES512, RS256
    from josepy.jwk import JWKEC, JWKRSA

    if isinstance(key, JWKRSA):
        return RS256
    if isinstance(key, JWKEC):
        by_curve = {"secp256r1": ES256, "secp384r1": ES384, "secp521r1": ES512}
        name = key.key.curve.name
        if name in by_curve:
            return by_curve[name]
    raise errors.AccountError(f"unsupported account key type: {type(key).__name__}")


def client_network(settings: SessionSettings, key: JWK,
             stats: PollStats) -> acme_client.ClientNetwork:
    """A ClientNetwork that retries bad nonces up to ``bad_nonce_retries`` times."""
    from acme import client as acme_client
    from acme import messages

    class _Network(acme_client.ClientNetwork):
        def post(self, *args: Any, **kwargs: Any) -> requests.Response:
            # super().post already retries once; each extra round is one more retry.
            for attempt in range(settings.bad_nonce_retries + 1):
                try:
                    return super().post(*args, **kwargs)
                except messages.Error as exc:
                    if exc.code != "badNonce" or attempt == settings.bad_nonce_retries:
                        raise
                    stats.bad_nonce_retries += 1
                    logger.debug("badNonce from the CA, retrying (%d)", attempt + 1)
            raise AssertionError("unreachable")

    # verify_ssl goes to requests' ``verify``, which also takes a CA bundle path.
    net = _Network(key=key, alg=jws_algorithm(key),
                   verify_ssl=settings.verify,  # type: ignore[arg-type]
                   user_agent=settings.user_agent, timeout=int(settings.network_timeout))
    net.session.trust_env = False  # REQUESTS_CA_BUNDLE must not override our choice
    return net


def client_error_text(exc: Exception) -> str:
    """A non-problem HTTP answer, e.g. a 404 from a URL that is no ACME directory."""
    first = exc.args[0] if exc.args else None
    if isinstance(first, tuple) and first:
        first = first[0]
    status = getattr(first, "status_code", None)
    if status is not None:
        url = getattr(first, "url", "?")
        return (f"HTTP {status} from {url}, not an ACME answer "
                "(check the --server URL)")
    return str(exc) or type(exc).__name__
