"""Token buckets by key (rates.py), with a hand-driven clock."""

from __future__ import annotations

from selfemployed_gateway.rates import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(clock)
    assert [buckets.take("a", 2.0, 3.0) for _ in range(4)] == [True, True, True, False]
    assert buckets.take("b", 2.0, 3.0)  # each key its own bucket
    clock.now = 0.5
    assert [buckets.take("a", 2.0, 3.0) for _ in range(2)] == [True, False]


def test_the_table_is_bounded() -> None:
    clock = Clock()
    buckets = TokenBuckets(clock, max_keys=2)
    assert buckets.take("a", 1.0, 1.0) and not buckets.take("a", 1.0, 1.0)
    buckets.take("b", 1.0, 1.0)
    buckets.take("c", 1.0, 1.0)  # a third key: the table starts afresh
    assert buckets.take("a", 1.0, 1.0)
