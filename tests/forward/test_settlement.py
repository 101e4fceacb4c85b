"""What settles a chunk in flight: the peer's ack, or (on a Unix socket) the peer having read it."""

from shipper.forward.settlement import Settlement, Verdict, unacked_note


def looks(rule, start: float, end: float, every: float = 0.02):
    """The client's looks every ``every`` seconds from ``start`` to ``end``: the verdicts, once each."""
    return {rule.all_read(now=start + n * every) for n in range(round((end - start) / every) + 1)}


def test_with_acks_a_read_chunk_waits_for_its_ack_within_the_grace():
    rule = Settlement(acks=True, sees_reads=True, grace=1.0)
    assert looks(rule, 10.0, 10.9) == {Verdict.WAIT}


def test_a_peer_that_reads_and_acks_nothing_for_the_grace_is_found_not_to_ack():
    rule = Settlement(acks=True, sees_reads=True, grace=1.0)
    assert looks(rule, 10.0, 11.04) == {Verdict.WAIT, Verdict.SETTLE_NO_ACKS, Verdict.SETTLE}
    assert rule.peer_acks is False


def test_once_found_not_to_ack_every_read_settles_at_once():
    rule = Settlement(acks=True, sees_reads=True, grace=1.0)
    looks(rule, 10.0, 11.04)
    assert rule.all_read(now=30.0) is Verdict.SETTLE


def test_a_peer_that_acked_keeps_at_least_once_and_reads_never_settle():
    rule = Settlement(acks=True, sees_reads=True, grace=1.0)
    looks(rule, 10.0, 10.5)
    rule.acked()
    assert rule.all_read(now=99.0) is Verdict.WAIT
    assert not rule.watches_reads


def test_a_late_ack_from_a_peer_found_not_to_ack_restores_acks():
    rule = Settlement(acks=True, sees_reads=True, grace=1.0)
    looks(rule, 10.0, 11.04)
    rule.acked()
    assert rule.peer_acks is True and rule.all_read(now=50.0) is Verdict.WAIT


def test_without_acks_a_unix_peer_settles_a_chunk_once_it_has_read_it():
    rule = Settlement(acks=False, sees_reads=True)
    assert rule.watches_reads and rule.all_read(now=0.0) is Verdict.SETTLE


def test_where_reads_cannot_be_seen_they_are_not_watched():
    assert not Settlement(acks=True, sees_reads=False).watches_reads


def test_a_peer_that_acked_on_an_earlier_connection_is_not_suspected_again():
    rule = Settlement(acks=True, sees_reads=True, grace=1.0, peer_acks=True)
    rule.all_read(now=10.0)
    assert rule.all_read(now=20.0) is Verdict.WAIT and not rule.watches_reads


def test_a_pause_between_two_looks_starts_the_grace_again():
    rule = Settlement(acks=True, sees_reads=True, grace=1.0)
    rule.all_read(now=10.0)
    assert rule.all_read(now=10.9) is Verdict.WAIT  # 0.9 s without a look: a stalled client, not a peer
    assert looks(rule, 10.92, 11.84) == {Verdict.WAIT}  # more than a second after the first look
    assert Verdict.SETTLE_NO_ACKS in looks(rule, 11.86, 11.96)


def test_the_summary_notes_unacked_records_only_when_there_are_some():
    assert unacked_note(0) == ""
    assert unacked_note(7) == " (7 of them read by a server that does not ack)"
