"""Replay protocol/vectors/ through the Python codec, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from certkernel.protocol.codec import (
    Decoder,
    Malformed,
    Notification,
    ProtocolViolation,
    Request,
    Response,
    encode,
)

VECTORS = json.loads(
    (Path(__file__).parents[2] / "protocol" / "vectors" / "vectors.json").read_text()
)["vectors"]


def _native(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        return {k: _native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_native(v) for v in value]
    return value


def _message(decoded: list[Any]) -> Request | Response | Notification:
    kind = decoded[0]
    if kind == 0:
        return Request(decoded[1], decoded[2], decoded[3][0] if decoded[3] else {})
    if kind == 1:
        return Response(decoded[1], decoded[2], decoded[3])
    return Notification(decoded[1], decoded[2][0] if decoded[2] else {})


VALID = [v for v in VECTORS if v["valid"]]
INVALID = [v for v in VECTORS if not v["valid"]]


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_valid_vector_decodes_to_its_meaning(vector):
    messages = Decoder().feed(bytes.fromhex(vector["hex"]))
    assert messages == [_message(_native(vector["decoded"]))]


ENCODABLE = [v for v in VALID if v["decoded"][-1] != [] and v.get("exact_encoding", True)]


@pytest.mark.parametrize("vector", ENCODABLE, ids=[v["name"] for v in ENCODABLE])
def test_valid_vector_encodes_to_its_bytes(vector):
    assert encode(_message(_native(vector["decoded"]))).hex() == vector["hex"]


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_vector_is_refused_by_the_kernel(vector):
    decoder = Decoder()
    with pytest.raises(ProtocolViolation):
        decoder.feed(bytes.fromhex(vector["hex"]))
        decoder.close()


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_vector_reaction_in_a_plugin(vector):
    decoder = Decoder(lenient=True)
    if vector["reaction"] == "invalid-request":
        assert decoder.feed(bytes.fromhex(vector["hex"])) == [Malformed(1, decoder_reason(vector))]
    else:
        with pytest.raises(ProtocolViolation):
            decoder.feed(bytes.fromhex(vector["hex"]))
            decoder.close()


def test_violation_quotes_the_whole_message_not_a_fragment():
    """§3.1: up to 64 bytes from the start of the offending message."""
    ext = bytes.fromhex("940001a470696e679181a178d40501")
    with pytest.raises(ProtocolViolation) as info:
        Decoder().feed(ext)
    assert info.value.offending == ext
    assert str(info.value) == f"extension type 5 is not allowed (bytes: {ext.hex()})"


def test_violation_in_a_message_split_over_chunks_quotes_its_start():
    good = encode(Request(1, "$/ping", {}))
    bad = bytes.fromhex("940001a470696e679181a178d40501")
    decoder = Decoder()
    stream = good + bad
    with pytest.raises(ProtocolViolation) as info:
        for i in range(0, len(stream), 3):
            decoder.feed(stream[i : i + 3])
    assert info.value.offending == bad


def test_invalid_messagepack_names_the_fault_and_quotes_from_the_message_start():
    ok = encode(Request(7, "$/ping", {}))
    with pytest.raises(ProtocolViolation) as info:
        Decoder().feed(ok + b"\xc1rest")
    assert str(info.value) == (
        "invalid MessagePack: a byte that starts no MessagePack value (0xc1 is never used) "
        "(bytes: c172657374)"
    )
    with pytest.raises(ProtocolViolation, match=r"not valid UTF-8 .*\(bytes: 9401a2fffe\)$"):
        Decoder().feed(bytes.fromhex("9401a2fffe"))


def test_long_message_quotes_exactly_64_bytes():
    import msgpack

    bad = msgpack.packb([0, 1, "$/ping", [{"x": "a" * 200, "y": msgpack.ExtType(5, b"1")}]])
    decoder = Decoder()
    decoder.feed(bad[:10])
    with pytest.raises(ProtocolViolation, match="extension type 5") as info:
        decoder.feed(bad[10:])
    assert info.value.offending == bad[:64]


def test_truncation_at_eof_quotes_the_unfinished_message():
    decoder = Decoder()
    decoder.feed(encode(Request(1, "$/ping", {})) + bytes.fromhex("940001"))
    decoder.feed(bytes.fromhex("a470"))
    with pytest.raises(ProtocolViolation) as info:
        decoder.close()
    assert info.value.offending.hex() == "940001a470"


def test_response_keeps_its_bytes_for_an_unknown_id_quote():
    raw = bytes.fromhex("9401cf0000000000000009c080")
    (response,) = Decoder().feed(raw)
    assert response == Response(9, None, {})
    assert response.raw == raw


def decoder_reason(vector: dict[str, Any]) -> str:
    return "malformed request: needs [0, uint32 id, str method, [map]]"


def test_stream_of_all_valid_vectors_split_at_every_byte():
    stream = b"".join(bytes.fromhex(v["hex"]) for v in VALID)
    expected = [_message(_native(v["decoded"])) for v in VALID]
    decoder = Decoder()
    got = []
    for i in range(len(stream)):
        got.extend(decoder.feed(stream[i : i + 1]))
    decoder.close()
    assert got == expected


def test_message_over_the_size_cap_is_refused_before_it_is_whole():
    decoder = Decoder(max_size=1024)
    header = bytes.fromhex("940001a470696e679181a178db") + (2000).to_bytes(4, "big")
    with pytest.raises(ProtocolViolation, match="size cap"):
        decoder.feed(header + b"a" * 1100)


def test_message_just_under_the_cap_is_accepted():
    payload = Request(1, "x", {"blob": "a" * 900})
    data = encode(payload)
    assert len(data) < 1024
    assert Decoder(max_size=1024).feed(data) == [payload]
