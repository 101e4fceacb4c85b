"""Arbitrary input raises nothing but our own protocol error."""

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.errors import RemoteProtocolError
from shipper.forward.protocol import Framer, interpret

from . import vectors as v

msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


def decode_everything(data: bytes, pieces: int = 1) -> None:
    framer = Framer(max_frame_bytes=4096)
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        for message in framer.feed(data[start : start + step]):
            interpret(message)
    list(framer.feed(b""))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512), st.integers(1, 8))
def test_random_bytes_raise_only_remote_protocol_errors(data, pieces):
    try:
        decode_everything(data, pieces)
    except RemoteProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 120))
def test_random_bytes_after_a_valid_prefix_raise_only_remote_protocol_errors(tail, cut):
    try:
        decode_everything(v.PACKED_BIN[:cut] + tail)
    except RemoteProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(msgpack_values, min_size=1, max_size=4))
def test_arbitrary_msgpack_arrays_raise_only_remote_protocol_errors(items):
    try:
        interpret(msgpack.unpackb(msgpack.packb(items), strict_map_key=False))
    except RemoteProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=8),
    msgpack_values,
    st.dictionaries(st.sampled_from(["size", "chunk", "compressed"]), msgpack_values),
)
def test_arbitrary_packed_bodies_and_options_raise_only_remote_protocol_errors(tag, body, option):
    packed = msgpack.packb(body)
    try:
        interpret([tag, packed, option])
    except RemoteProtocolError:
        pass
