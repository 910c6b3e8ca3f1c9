"""The wire codec (protocol/wire_codec.py): strict when sending, lenient only where §2 says.

The maps come from the registry's message classes, the rules under test are
the codec's: a field not declared cannot be built, a mistyped value never
leaves, a received map may carry unknown fields but not miss or mistype a
declared one, and nil reads as absent.
"""

from __future__ import annotations

import pytest

from certkernel.protocol import methods as wire
from certkernel.protocol.wire_codec import WireError


def test_a_sender_cannot_send_what_the_registry_does_not_declare() -> None:
    with pytest.raises(TypeError, match="port"):
        wire.DeployCertParams(domain="a", cert_path="c", key_path="k", chain_path="ch",  # type: ignore[call-arg]
                              fullchain_path="f", port=443)
    with pytest.raises(WireError, match=r"^save: params must be SaveParams, not DomainParams$"):
        wire.encode("save", wire.DomainParams("a"))
    with pytest.raises(WireError,
                       match=r"^SaveParams: field 'title' must be a string, not an integer$"):
        wire.encode("save", wire.SaveParams(title=3))  # type: ignore[arg-type]


def test_a_receiver_ignores_unknown_fields_and_names_missing_ones() -> None:
    assert wire.decode_params("storage/get", {"key": "k", "later": 1}) == wire.KeyParams("k")
    with pytest.raises(WireError, match=r"^perform\.challenges: missing field 'token'"):
        wire.decode_params("perform", {"challenges": [{"identifier": "a", "type": "http-01"}]})
    with pytest.raises(WireError, match=r"^checkpoint/rollback: field 'count' must be an "
                                        r"integer, not a boolean$"):
        wire.decode_params("checkpoint/rollback", {"count": True})
    # An optional field sent as nil reads as absent and takes its default.
    assert wire.decode_params("checkpoint/add", {"files": [], "temporary": None}) == \
        wire.FilesParams([], False)
