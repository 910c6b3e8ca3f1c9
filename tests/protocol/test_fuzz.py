"""Random and truncated byte streams never hang or crash the decoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certkernel.protocol.codec import Decoder, ProtocolViolation

VECTORS = json.loads(
    (Path(__file__).parents[2] / "protocol" / "vectors" / "vectors.json").read_text()
)["vectors"]
SEEDS = [bytes.fromhex(v["hex"]) for v in VECTORS]


def _run(data: bytes, chunk: int) -> None:
    decoder = Decoder(max_size=4096)
    try:
        for i in range(0, len(data), chunk):
            for message in decoder.feed(data[i : i + chunk]):
                assert message is not None
        decoder.close()
    except ProtocolViolation:
        pass


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512), st.integers(min_value=1, max_value=64))
def test_random_bytes(data, chunk):
    _run(data, chunk)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.sampled_from(SEEDS), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=400),
    st.binary(max_size=8),
    st.integers(min_value=1, max_value=32),
)
def test_mutated_and_truncated_valid_streams(parts, cut, noise, chunk):
    stream = b"".join(parts)
    pos = cut % (len(stream) + 1)
    _run(stream[:pos] + noise + stream[pos:], chunk)
    _run(stream[:pos], chunk)


@settings(max_examples=300, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8) | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=4) | st.integers(-(2**63), 2**64 - 1), children, max_size=4),
    max_leaves=30,
))
def test_arbitrary_msgpack_objects(obj):
    import msgpack

    _run(msgpack.packb(obj, use_bin_type=True), 7)


def test_deep_nesting_is_a_clean_error():
    """100k nested one-element arrays: a clean ProtocolViolation, not RecursionError."""
    decoder = Decoder(max_size=4096)
    data = b"\x91" * 100_000
    with pytest.raises(ProtocolViolation, match="nesting too deep"):
        for i in range(0, len(data), 4096):
            list(decoder.feed(data[i : i + 4096]))
        decoder.close()
