import msgpack
import pytest

from shipper.errors import ConfigError
from shipper.forward.batcher import Batcher, BatchLimits, PackedBatcher
from shipper.forward.protocol import Framer, interpret


def decode(chunk):
    return [interpret(m) for m in Framer().feed(chunk.payload)]


def test_a_batch_is_sealed_when_it_reaches_the_record_limit():
    batcher = Batcher("t", BatchLimits(max_records=3))
    results = [batcher.add((1, {"n": n}), 10, now=0.0) for n in range(3)]
    assert results[:2] == [None, None] and results[2].count == 3


def test_a_batch_is_sealed_when_it_reaches_the_byte_limit():
    batcher = Batcher("t", BatchLimits(max_bytes=100))
    assert batcher.add((1, {}), 60, now=0.0) is None
    assert batcher.add((1, {}), 60, now=0.0).count == 2


def test_the_deadline_is_the_first_entrys_time_plus_the_interval():
    batcher = Batcher("t", BatchLimits(interval=2.0))
    assert batcher.deadline() is None
    batcher.add((1, {}), 1, now=10.0)
    batcher.add((1, {}), 1, now=11.5)
    assert batcher.deadline() == 12.0


def test_add_many_splits_at_the_record_limit_keeping_order():
    batcher = Batcher("t", BatchLimits(max_records=4))
    chunks = batcher.add_many([(1, {"n": n}) for n in range(10)], 100, now=0.0)
    chunks.append(batcher.seal())
    numbers = [r["n"] for c in chunks for b in decode(c) for _, r in b.entries]
    assert [c.count for c in chunks] == [4, 4, 2] and numbers == list(range(10))


def test_sealed_chunk_is_packed_forward_with_size_and_its_chunk_id():
    chunk = Batcher("t", BatchLimits(max_records=1)).add((1, {"a": 1}), 1, 0.0)
    (batch,) = decode(chunk)
    assert (batch.mode, batch.chunk, batch.count) == ("PackedForward", chunk.id, 1)


def test_without_acks_the_message_carries_no_chunk_option():
    chunk = Batcher("t", BatchLimits(max_records=1), ack=False).add((1, {}), 1, 0.0)
    assert chunk.id is None and msgpack.unpackb(chunk.payload)[2] == {"size": 1}


@pytest.mark.parametrize("mode,expected", [("forward", "Forward"), ("message", "Message")])
def test_other_modes_encode_the_same_entries(mode, expected):
    batcher = Batcher("t", BatchLimits(), mode=mode)
    batcher.add((1, {"a": 1}), 1, 0.0)
    batcher.add((2, {"a": 2}), 1, 0.0)
    batches = decode(batcher.seal())
    assert {b.mode for b in batches} == {expected}
    assert [e for b in batches for e in b.entries] == [(1_000_000_000, {"a": 1}), (2_000_000_000, {"a": 2})]


def test_gzip_outside_packed_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="only in packed mode"):
        Batcher("t", BatchLimits(), gzip=True, mode="forward")


def packed(count):
    return b"".join(msgpack.packb([1, {"n": n}]) for n in range(count))


def test_packed_bodies_are_sealed_into_one_packedforward_chunk_with_their_count():
    batcher = PackedBatcher("t", BatchLimits())
    batcher.add(packed(2), 2, now=0.0)
    batcher.add(packed(3), 3, now=0.0)
    chunk = batcher.seal()
    (batch,) = decode(chunk)
    assert chunk.count == 5 and [r["n"] for _, r in batch.entries] == [0, 1, 0, 1, 2]


def test_packed_bodies_seal_at_the_record_limit_and_room_says_what_is_left():
    batcher = PackedBatcher("t", BatchLimits(max_records=5, max_bytes=1000))
    assert batcher.add(packed(3), 3, now=0.0) is None
    assert batcher.room() == (2, 1000 - len(packed(3)))
    assert batcher.add(packed(2), 2, now=0.0).count == 5
    assert batcher.room() == (5, 1000) and batcher.deadline() is None


def test_packed_bodies_seal_at_the_byte_limit():
    batcher = PackedBatcher("t", BatchLimits(max_bytes=len(packed(4))))
    assert batcher.add(packed(4), 4, now=0.0).count == 4
