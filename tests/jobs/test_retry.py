import pytest

from jobs.retry import Exponential, Fibonacci, Fixed, Linear


def test_fixed_linear_fibonacci_delays():
    assert [Fixed(min_delay=2).delay(n) for n in (1, 2, 3)] == [2, 2, 2]
    assert [Linear(min_delay=2).delay(n) for n in (1, 2, 3)] == [2, 4, 6]
    assert [Fibonacci(min_delay=1).delay(n) for n in (1, 2, 3, 4, 5, 6)] == [1, 1, 2, 3, 5, 8]


def test_exponential_without_jitter_doubles_up_to_the_cap():
    policy = Exponential(min_delay=1, max_delay=5, jitter=False)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]


@pytest.mark.parametrize("attempt", [1, 3, 6])
def test_exponential_jitter_stays_within_half_and_full(attempt):
    policy = Exponential(min_delay=1, max_delay=100)
    base = min(2 ** (attempt - 1), 100)
    delays = {policy.delay(attempt) for _ in range(200)}
    assert all(base / 2 <= d <= base for d in delays)
    assert len(delays) > 1  # jitter spreads retries


def test_policy_describes_itself():
    assert Exponential(max_retries=5).describe()["kind"] == "exponential"
    assert Linear().describe()["max_retries"] == 3
