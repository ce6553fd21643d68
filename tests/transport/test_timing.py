"""harness.transport._timing: sparse histograms and read timings merge, travel and rank right."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from harness.transport import ReadTimings, SparseHistogram
from harness.transport._timing import bucket_us

seconds = st.floats(min_value=0.0, max_value=120.0, allow_nan=False)
values = st.lists(seconds, max_size=60)


def histogram(xs: list[float]) -> SparseHistogram:
    hist = SparseHistogram()
    for x in xs:
        hist.record(x)
    return hist


@given(st.integers(min_value=0, max_value=10**9))
def test_buckets_are_exact_below_1ms_and_within_1_percent_above(us: int) -> None:
    key = bucket_us(us)
    assert key <= us
    if us < 1000:
        assert key == us
    else:
        assert us - key < max(1, us // 100 + 1)


@given(values, values, values)
def test_merge_is_associative_and_commutative(
    a: list[float], b: list[float], c: list[float]
) -> None:
    left = histogram(a)
    left.merge(histogram(b))
    left.merge(histogram(c))
    right = histogram(c)
    right.merge(histogram(b))
    right.merge(histogram(a))
    assert left.counts == right.counts == histogram(a + b + c).counts
    assert left.total == len(a) + len(b) + len(c)


@given(values)
def test_json_round_trip_is_identity(xs: list[float]) -> None:
    hist = histogram(xs)
    back = SparseHistogram.from_json(hist.to_json())
    assert back.counts == hist.counts
    assert back.total == hist.total


@given(st.lists(seconds, min_size=1, max_size=200), st.sampled_from([50.0, 90.0, 99.0, 100.0]))
def test_percentiles_bound_the_exact_ones_from_above_within_a_bucket(
    xs: list[float], pct: float
) -> None:
    ordered = sorted(xs)
    exact_ms = ordered[max(0, math.ceil(len(xs) * pct / 100) - 1)] * 1000.0
    got = histogram(xs).percentile_ms(pct)
    assert got is not None
    # The bucket's upper edge: never below the true value's bucket, at most one bucket above.
    assert got >= bucket_us(int(exact_ms * 1000)) / 1000.0
    assert got <= exact_ms * 1.01 + 0.002


def test_exact_items_count_as_zeros_in_the_bound_percentiles() -> None:
    timings = ReadTimings(clock="kernel", items=1000)
    timings.record_bound(0.005, 5)  # 5 items of 1,000 may be 5 ms off; 995 are exact
    summary = timings.summary()
    assert summary["p99_ms"] == 0.0
    assert summary["over_1ms"] == 5
    assert summary["over_1ms_pct"] == 0.5
    assert 5.0 <= summary["max_ms"] <= 5.01  # the upper edge of its 10 µs bucket


def test_timings_travel_as_json_and_merge_their_clocks() -> None:
    kernel = ReadTimings(clock="kernel", items=10, unstamped_reads=1, clock_steps=2)
    kernel.lag.record(0.0002, 3)
    back = ReadTimings.from_json(kernel.to_json())
    assert back.to_json() == kernel.to_json()
    merged = ReadTimings()
    merged.merge(back)
    assert merged.clock == "kernel"
    merged.merge(ReadTimings(clock="user", items=4))
    assert merged.clock == "mixed"
    assert merged.items == 14


def test_take_hands_over_and_starts_afresh() -> None:
    timings = ReadTimings(clock="kernel", items=3)
    timings.lag.record(0.001)
    taken = timings.take()
    assert taken.items == 3
    assert taken.lag.total == 1
    assert timings.empty
    assert timings.clock == "kernel"
