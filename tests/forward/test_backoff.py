from itertools import islice

from shipper.forward.backoff import backoff


def test_delays_double_until_the_cap():
    delays = list(islice(backoff(base=1, cap=8, rand=lambda: 1.0), 6))
    assert delays == [1, 2, 4, 8, 8, 8]


def test_jitter_keeps_each_delay_in_its_upper_half():
    delays = list(islice(backoff(base=1, cap=8, rand=lambda: 0.0), 4))
    assert delays == [0.5, 1, 2, 4]
