import gzip

import msgpack
import pytest

from shipper.forward import protocol
from shipper.forward.eventtime import to_wire

from . import vectors as v


def entries():
    return [(to_wire(v.NS), {"a": 1}), (to_wire(v.NS), {"a": 2})]


def test_message_mode_matches_the_spec_vector():
    assert protocol.encode_message("tag.a", to_wire(v.NS), {"k": "v"}) == v.MESSAGE


def test_message_mode_carries_the_chunk_option():
    assert protocol.encode_message("tag.a", to_wire(v.NS), {"k": "v"}, chunk="c1") == v.MESSAGE_WITH_CHUNK


def test_forward_mode_matches_the_spec_vector_with_size_and_chunk():
    expected = v.FORWARD.replace(v.EVENT_TIME_EXT8, v.EVENT_TIME_FIXEXT8)
    assert protocol.encode_forward("t", entries(), chunk="x") == expected


def test_packed_entries_are_concatenated_msgpack_entries():
    assert protocol.pack_entries(entries()) == v.ENTRY_1 + v.ENTRY_1.replace(v.RECORD_A1, v.RECORD_A2)


def test_packed_entries_strip_array16_and_array32_headers():
    many = [(1, {})] * 70_000  # array32
    assert protocol.pack_entries(many) == b"\x92\x01\x80" * 70_000
    some = [(1, {})] * 20  # array16
    assert protocol.pack_entries(some) == b"\x92\x01\x80" * 20


def test_packed_forward_carries_entries_as_bin_with_size_and_chunk():
    body = protocol.pack_entries(entries())
    tag, packed, option = msgpack.unpackb(protocol.encode_packed_forward("t", body, 2, chunk="x"))
    assert (tag, packed, option) == ("t", body, {"size": 2, "chunk": "x"})


def test_compressed_packed_forward_is_one_gzip_member_and_says_so():
    body = protocol.pack_entries(entries())
    _, packed, option = msgpack.unpackb(protocol.encode_packed_forward("t", body, 2, gzip=True))
    assert option == {"size": 2, "compressed": "gzip"}
    assert gzip.decompress(packed) == body


def test_message_batches_put_the_chunk_only_on_the_last_message():
    unpacker = msgpack.Unpacker()
    unpacker.feed(protocol.encode_messages("t", [(1, {"a": 1}), (2, {"a": 2})], chunk="c"))
    assert list(unpacker) == [["t", 1, {"a": 1}], ["t", 2, {"a": 2}, {"chunk": "c"}]]


def test_ack_response_matches_the_spec_vector():
    assert protocol.encode_ack("x") == v.ACK_X


def test_chunk_ids_are_base64_of_128_random_bits():
    import base64

    ids = {protocol.new_chunk_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(base64.b64decode(chunk)) == 16 for chunk in ids)


@pytest.mark.parametrize("size", [0, 255, 256, 65535, 65536, 200_000])
def test_packed_forward_uses_the_right_bin_header_for_every_body_size(size):
    body = b"\x80" * size
    message = protocol.encode_packed_forward("t", body, size, chunk="c")
    assert message == msgpack.packb(["t", body, {"size": size, "chunk": "c"}], use_bin_type=True)
