import gzip

import msgpack
import pytest

from shipper.errors import RemoteProtocolError
from shipper.forward.protocol import Framer, acks_in, interpret

from . import vectors as v

EXPECTED_TWO = [(v.NS, {"a": 1}), (v.NS, {"a": 2})]
WIRE_CASES = {
    "message": (v.MESSAGE, "Message", [(v.NS, {"k": "v"})], None),
    "message+chunk": (v.MESSAGE_WITH_CHUNK, "Message", [(v.NS, {"k": "v"})], "c1"),
    "forward": (v.FORWARD, "Forward", EXPECTED_TWO, "x"),
    "packed-bin": (v.PACKED_BIN, "PackedForward", EXPECTED_TWO, "x"),
    "packed-str": (v.PACKED_STR, "PackedForward", EXPECTED_TWO, "x"),
}


def decode_all(chunks):
    framer = Framer()
    messages = []
    for chunk in chunks:
        messages.extend(framer.feed(chunk))
    messages.extend(framer.feed(b""))
    return [interpret(m) for m in messages]


@pytest.mark.parametrize("case", WIRE_CASES, ids=list(WIRE_CASES))
def test_each_mode_decodes_when_fed_whole(case):
    wire, mode, entries, chunk = WIRE_CASES[case]
    (batch,) = decode_all([wire])
    assert (batch.mode, batch.entries, batch.chunk) == (mode, entries, chunk)


@pytest.mark.parametrize("case", WIRE_CASES, ids=list(WIRE_CASES))
def test_each_mode_decodes_when_fed_byte_by_byte(case):
    wire, mode, entries, chunk = WIRE_CASES[case]
    (batch,) = decode_all([wire[i : i + 1] for i in range(len(wire))])
    assert (batch.mode, batch.entries, batch.chunk) == (mode, entries, chunk)


@pytest.mark.parametrize("case", WIRE_CASES, ids=list(WIRE_CASES))
def test_each_mode_leaves_trailing_data_for_the_next_message(case):
    wire = WIRE_CASES[case][0]
    framer = Framer()
    messages = list(framer.feed(wire + v.MESSAGE[:5]))
    assert len(messages) == 1 and framer.pending == 5
    messages = list(framer.feed(v.MESSAGE[5:]))
    assert interpret(messages[0]).entries == [(v.NS, {"k": "v"})]


def test_compressed_packed_forward_decodes_several_concatenated_gzip_members():
    body = gzip.compress(v.ENTRY_1) + gzip.compress(v.ENTRY_2)
    wire = msgpack.packb(["t", body, {"compressed": "gzip", "size": 2}])
    (batch,) = decode_all([wire])
    assert (batch.mode, batch.entries) == ("CompressedPackedForward", EXPECTED_TWO)


def test_packed_forward_without_size_option_decodes():
    (batch,) = decode_all([msgpack.packb(["t", v.PACKED_BODY])])
    assert batch.entries == EXPECTED_TWO


def test_packed_forward_with_a_lying_size_still_decodes_every_entry():
    (batch,) = decode_all([msgpack.packb(["t", v.PACKED_BODY, {"size": 1}])])
    assert batch.entries == EXPECTED_TWO


def test_count_only_decoding_counts_without_records():
    batch = interpret(msgpack.unpackb(v.PACKED_BIN), count_only=True)
    assert (batch.count, batch.entries, batch.chunk) == (2, [], "x")


def test_entries_with_v1_5_time_and_metadata_decode():
    entry = b"\x92\x92" + v.EVENT_TIME_FIXEXT8 + b"\x81\xa1m\x01" + v.RECORD_A1
    (batch,) = decode_all([msgpack.packb(["t", entry, {"size": 1}])])
    assert batch.entries == [(v.NS, {"a": 1})]


def test_float_and_integer_times_decode_in_forward_mode():
    (batch,) = decode_all([msgpack.packb(["t", [[1.5, {}], [2, {}]]])])
    assert [ns for ns, _ in batch.entries] == [1_500_000_000, 2_000_000_000]


def test_acks_are_read_from_server_responses():
    assert acks_in(Framer().feed(v.ACK_X + v.ACK_X.replace(b"\xa1x", b"\xa1y"))) == ["x", "y"]


BAD_MESSAGES = {
    "not an array": ({"tag": "t"}, "message array"),
    "tag not a string": ([1, 2, {}], "tag must be a string"),
    "record not a map": (["t", 1, "text"], "must be a map"),
    "entry not a pair": (["t", [[1]]], r"entry 0 must be \[time, record\]"),
    "forward entry record not a map": (["t", [[1, "x"]], {"chunk": "c"}], "record 0 must be a map"),
    "nested v1.5 time": (["t", [[[[5]]], {}], {}], "entry 0 must be"),
    "v1.5 time without metadata map": (["t", [5, 6], {"a": 1}], "event time"),
    "infinite time": (["t", float("inf"), {}], "1970..2106"),
    "negative time": (["t", -1, {}], "1970..2106"),
    "time past 2106": (["t", 2**40, {}], "1970..2106"),
    "option not a map": (["t", [], "nope"], "option must be a map"),
    "unknown compression": (["t", b"", {"compressed": "zstd"}], "unknown compression"),
    "packed entry not a pair": (["t", msgpack.packb([1, 2, 3]), {}], "entry 0"),
    "packed record not a map": (["t", msgpack.packb([1, [1]]), {"size": 1}], "record 0 must be a map"),
    "packed body cut mid-entry": (["t", v.ENTRY_1[:-1]], "mid-entry"),
    "corrupt gzip": (["t", b"\x1f\x8bnot gzip", {"compressed": "gzip"}], "gzip"),
    "time as a map": (["t", {"when": 1}, {}], "event time"),
}


@pytest.mark.parametrize("case", BAD_MESSAGES, ids=list(BAD_MESSAGES))
def test_malformed_messages_raise_a_protocol_error_saying_what_is_wrong(case):
    message, fragment = BAD_MESSAGES[case]
    with pytest.raises(RemoteProtocolError, match=fragment):
        interpret(msgpack.unpackb(msgpack.packb(message), raw=False, strict_map_key=False))


def test_gzip_bomb_is_refused_past_the_inflate_limit():
    body = gzip.compress(b"\x00" * 100_000)
    with pytest.raises(RemoteProtocolError, match="limit"):
        interpret(["t", body, {"compressed": "gzip"}], max_inflated_bytes=10_000)


def test_invalid_msgpack_byte_is_a_protocol_error_with_its_offset():
    framer = Framer()
    with pytest.raises(RemoteProtocolError, match="invalid msgpack at byte 0"):
        list(framer.feed(b"\xc1"))


def test_messages_before_a_bad_byte_are_still_returned():
    framer = Framer()
    got = []
    with pytest.raises(RemoteProtocolError):
        for message in framer.feed(v.MESSAGE + b"\xc1"):
            got.append(message)
    assert len(got) == 1


def test_stream_ending_inside_a_message_is_a_protocol_error():
    framer = Framer()
    list(framer.feed(v.MESSAGE[:-3]))
    with pytest.raises(RemoteProtocolError, match="ended inside a message"):
        list(framer.feed(b""))


def test_oversized_frame_is_refused_before_it_is_complete():
    framer = Framer(max_frame_bytes=1000)
    header = b"\x93\xa1t\xc6" + (10_000).to_bytes(4, "big")  # bin 32 of 10,000 bytes
    with pytest.raises(RemoteProtocolError, match="1000-byte frame limit"):
        list(framer.feed(header + b"x" * 1500))


def test_frames_up_to_the_limit_pass_even_with_the_next_frame_behind_them():
    frame = msgpack.packb(["t", b"x" * 900])
    framer = Framer(max_frame_bytes=len(frame))
    assert len(list(framer.feed(frame + frame + frame))) == 3


def test_nan_time_is_a_protocol_error():
    with pytest.raises(RemoteProtocolError, match="1970..2106"):
        interpret(["t", float("nan"), {}])


def test_a_message_claiming_more_entries_than_the_limit_is_refused_before_decoding():
    with pytest.raises(RemoteProtocolError, match="exceeds the 1000000 limit"):
        interpret(["t", b"\x92\x00\x80" * 10, {"size": 2_000_000}])


def test_a_tiny_gzip_body_cannot_inflate_past_the_frame_limit():
    import gzip as gz

    bomb = gz.compress(b"\x92\x00\x80" * 12_000_000)  # 36 MB of [0, {}] in a few kB
    with pytest.raises(RemoteProtocolError, match="inflates past"):
        interpret(["t", bomb, {"compressed": "gzip"}])


def test_a_helo_where_an_ack_was_expected_says_the_server_wants_a_shared_key():
    with pytest.raises(RemoteProtocolError, match="set --shared-key"):
        acks_in([["HELO", {"nonce": b"n"}]])


def test_a_header_declaring_more_items_than_a_frame_holds_is_refused_at_once():
    with pytest.raises(RemoteProtocolError, match="declares a field of 2147483647 items, over the 1024-byte frame"):
        list(Framer(1024).feed(b"\xdd\x7f\xff\xff\xff"))
