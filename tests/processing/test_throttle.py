"""--throttle: a token bucket per stream, with one notice per interval."""

from shipper.processing.throttle import Rate, Throttle


def test_the_burst_is_available_at_once():
    assert Throttle(Rate(10, 1.0, 50), now=0.0).quota(0.0) == 50


def test_the_bucket_refills_at_the_rate():
    throttle = Throttle(Rate(10, 1.0, 10), now=0.0)
    throttle.spend(10, 0)
    assert throttle.quota(0.0) == 0
    assert throttle.quota(0.5) == 5


def test_the_bucket_never_holds_more_than_the_burst():
    throttle = Throttle(Rate(10, 1.0, 10), now=0.0)
    assert throttle.quota(100.0) == 10


def test_a_per_minute_rate_refills_per_minute():
    throttle = Throttle(Rate(60, 60.0, 60), now=0.0)
    throttle.spend(60, 0)
    assert throttle.quota(1.0) == 1


def test_one_notice_per_interval_counts_what_was_throttled_since_the_last():
    throttle = Throttle(Rate(10, 1.0, 10), now=0.0)
    throttle.spend(10, 7)
    assert throttle.notice(0.5) == 0
    assert throttle.notice(1.0) == 7
    throttle.spend(0, 3)
    assert throttle.notice(1.5) == 0
    assert throttle.notice(2.0) == 3
    assert throttle.throttled == 10


def test_the_final_notice_is_not_held_back_by_the_interval():
    throttle = Throttle(Rate(10, 1.0, 10), now=0.0)
    throttle.spend(10, 2)
    assert throttle.notice(0.1, final=True) == 2


def test_no_notice_when_nothing_was_throttled():
    assert Throttle(Rate(10, 1.0, 10), now=0.0).notice(5.0, final=True) == 0


def test_a_rate_reads_back_as_written():
    assert (str(Rate(100, 1.0, 100)), str(Rate(6000, 60.0, 1000))) == ("100/s", "6000/m:1000")
