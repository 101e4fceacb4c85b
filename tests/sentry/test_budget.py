"""The cap per minute and the sample rate (sans-I/O)."""

from shipper.sentry.budget import Budget, sampler


def test_a_burst_gets_the_cap_then_nothing_until_time_passes():
    budget = Budget(per_minute=3, now=0.0)
    assert [budget.take(0.0) for _ in range(5)] == [True, True, True, False, False]


def test_the_cap_refills_at_its_rate():
    budget = Budget(per_minute=60, now=0.0)
    assert sum(budget.take(0.0) for _ in range(100)) == 60
    assert [budget.take(0.5), budget.take(1.0), budget.take(1.0)] == [False, True, False]


def test_a_crash_loop_over_ten_minutes_costs_the_cap_per_minute_and_one_burst():
    budget = Budget(per_minute=60, now=0.0)
    sent = sum(budget.take(tick / 100) for tick in range(60_001))  # 100 a second for 10 minutes
    assert 60 + 599 <= sent <= 60 + 600  # the last refill may round either way


def test_a_sample_rate_sends_that_share():
    draws = iter([0.05, 0.5, 0.09, 0.95])
    sample = sampler(0.1, lambda: next(draws))
    assert [sample() for _ in range(4)] == [True, False, True, False]


def test_a_rate_of_one_sends_everything_without_drawing():
    sample = sampler(1.0, lambda: 1 / 0)
    assert sample()
