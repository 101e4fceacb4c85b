import pytest

from shipper.errors import ConfigError, DeliveryError
from shipper.forward.batcher import Chunk
from shipper.forward.queue import ChunkQueue


def chunk(n: int, size: int = 100) -> Chunk:
    return Chunk("t", bytes(size), count=10, id=f"c{n}")


def queue(max_bytes, on_full, settled=None):
    record = settled.append if settled is not None else lambda item: None
    return ChunkQueue(max_bytes, on_full, lambda c, e: record((c.id, e)))


def test_drop_oldest_drops_queued_chunks_from_the_front_and_counts_their_records():
    settled = []
    q = queue(250, "drop-oldest", settled)
    for n in range(3):
        q.put(chunk(n))
    assert [c.id for c in q] == ["c1", "c2"] and q.dropped_records == 10
    assert settled[0][0] == "c0" and "buffer full (drop-oldest)" in str(settled[0][1])


def test_drop_newest_refuses_the_new_chunk():
    q = queue(250, "drop-newest")
    dropped = [q.put(chunk(n)) for n in range(3)]
    assert [c.id for c in q] == ["c0", "c1"] and [c.id for c in dropped[2]] == ["c2"]


def test_block_accepts_and_reports_no_room():
    q = queue(250, "block")
    for n in range(3):
        assert q.put(chunk(n)) == []
    assert not q.has_room() and not q.room.is_set()


def test_bytes_stay_counted_while_in_flight_until_settled():
    q = queue(150, "drop-newest")
    q.put(chunk(0))
    taken = q.take()
    assert q.put(chunk(1)) != []  # the taken chunk still holds its bytes
    q.settle(taken)
    assert q.put(chunk(2)) == [] and q.bytes == 100


def test_given_back_chunks_return_to_the_front_in_order():
    q = queue(None, "block")
    for n in range(4):
        q.put(chunk(n))
    first, second = q.take(), q.take()
    q.give_back([first, second])
    assert [c.id for c in q] == ["c0", "c1", "c2", "c3"]


def test_idle_is_set_only_when_nothing_is_queued_or_in_flight():
    q = queue(None, "block")
    q.put(chunk(0))
    taken = q.take()
    assert not q.idle.is_set()
    q.settle(taken)
    assert q.idle.is_set()


def test_fail_waiting_settles_every_queued_chunk_with_the_error():
    settled = []
    q = queue(None, "block", settled)
    q.put(chunk(0))
    q.put(chunk(1))
    q.fail_waiting(lambda c: DeliveryError("gone", c.count))
    assert [s[0] for s in settled] == ["c0", "c1"] and len(q) == 0 and q.bytes == 0


def test_an_unknown_policy_is_a_config_error():
    with pytest.raises(ConfigError, match="drop-oldest, drop-newest, block"):
        ChunkQueue(100, "drop-random")
