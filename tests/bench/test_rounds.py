"""The benchmark's rows 1, 1p and 2 measured in rounds (bench/run.py): turns merged into one
row, ratios as medians of the rounds'."""

from __future__ import annotations

import pytest
from bench.cpu import CpuUse
from bench.cpu import merged as merged_cpu
from bench.load import LoadResult
from bench.load import merged as merged_results
from bench.run import ratio_of_rounds


def test_merged_results_add_exchanges_errors_and_seconds() -> None:
    first = LoadResult(16, 2.5, [1.0, 2.0], 1, 10, ["a"], False, {"status 500": 1}, 2)
    second = LoadResult(16, 2.5, [3.0], 2, 5, ["b"], True, {"status 500": 1, "eof": 1}, 0)
    both = merged_results([first, second])
    assert both.latencies_ms == [1.0, 2.0, 3.0]
    assert (both.errors, both.refused, both.warmup_requests) == (3, 2, 15)
    assert both.measured_seconds == 5.0
    assert both.rate == pytest.approx(3 / 5.0)
    assert both.error_kinds == {"status 500": 2, "eof": 1}
    assert both.error_samples == ["a", "b"]
    assert both.hit_deadline is True
    assert both.total == 3 + 3 + 2 + 15


def test_merged_cpu_adds_seconds_and_weights_other_cores_by_duration() -> None:
    both = merged_cpu(
        [
            CpuUse(seconds=1.0, server_seconds=0.9, other_cores=0.0, helper_seconds=0.2),
            CpuUse(3.0, 2.7, other_cores=0.4, helper_seconds=0.6, load_seconds=0.3),
        ]
    )
    assert both.seconds == 4.0
    assert both.server_seconds == pytest.approx(3.6)
    assert both.other_cores == pytest.approx(0.3)
    assert both.helper_seconds == pytest.approx(0.8)
    assert both.load_seconds == pytest.approx(0.3)


def test_ratio_of_rounds_is_the_median_of_each_rounds_ratio() -> None:
    # Rounds 0.3, 0.15, 0.4, 0.3: one odd round does not move it (the totals would give 0.28).
    gateway = [300.0, 150.0, 320.0, 330.0]
    proxy = [1000.0, 1000.0, 800.0, 1100.0]
    assert ratio_of_rounds(gateway, proxy) == pytest.approx((0.3 + 0.3) / 2)
    assert ratio_of_rounds([1.0], [0.0]) == 0.0
