"""harness.report.run.series: bucketed counts add up, concurrency integrates to stream time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.report.run.series import (
    MAX_BUCKETS,
    bucket_width,
    build_series,
    nearest_rank,
    ttfi_buckets,
)
from harness.results import StreamRecord

START = 1_795_000_000.0

records_strategy = st.lists(
    st.builds(
        StreamRecord,
        t=st.floats(0.0, 3000.0).map(lambda x: START + x),
        env=st.sampled_from(["Production", "Test"]),
        flow=st.just("orders"),
        outcome=st.sampled_from(["ok", "truncated", "http_error"]),
        duration_ms=st.floats(0.0, 400_000.0),
        ttfi_ms=st.one_of(st.none(), st.floats(0.0, 5000.0)),
    ),
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(records_strategy)
def test_counts_add_up_and_concurrency_integrates(records: list[StreamRecord]) -> None:
    series = build_series(records)
    if not records:
        assert series is None
        return
    assert series is not None
    assert 1 <= series.size <= MAX_BUCKETS
    assert sum(series.started) == sum(series.completed) == len(records)
    assert sum(sum(v) for v in series.outcomes.values()) == len(records)
    total_stream_s = sum(r.duration_ms / 1000.0 for r in records)
    assert sum(series.active) * series.width == pytest.approx(total_stream_s, rel=1e-6, abs=1e-6)
    sizes = {len(values) for values in series.ttfi_p95.values()}
    assert len(sizes) <= 1
    assert all(1 <= size <= MAX_BUCKETS for size in sizes)
    for env, values in series.ttfi_p95.items():
        measured = {r.ttfi_ms for r in records if r.env == env and r.ttfi_ms is not None}
        assert {v for v in values if v is not None} <= measured  # a nearest rank is a sample
        assert any(v is not None for v in values)


def test_known_schedule() -> None:
    # Two 10 s streams, one starting at 0 s and one at 5 s: 2 in flight during 5..10 s.
    records = [
        StreamRecord(START, "P", "f", "ok", 10_000.0, ttfi_ms=100.0),
        StreamRecord(START + 5, "P", "f", "truncated", 10_000.0, ttfi_ms=300.0),
    ]
    series = build_series(records)
    assert series is not None
    assert series.width == 1.0
    assert series.size == 15
    assert series.active == [1.0] * 5 + [2.0] * 5 + [1.0] * 5
    assert series.started[0] == series.started[5] == 1
    assert series.outcomes["ok"][10] == 1
    assert series.outcomes["truncated"][14] == 1
    assert series.ttfi_p95 == {"P": [300.0]}  # two streams: one bucket, its p95 is the max


def test_ttfi_buckets_hold_enough_streams_for_a_p95() -> None:
    # 400 streams over 100 s, TTFI = 10 x the second it started: 20 streams per bucket → 5 s.
    records = [
        StreamRecord(START + i / 4, "P", "f", "ok", 50.0, ttfi_ms=10.0 * (i // 4))
        for i in range(400)
    ]
    width, p95 = ttfi_buckets(records, START, 100.0)
    assert width == 5.0
    assert len(p95["P"]) == 20
    assert p95["P"][0] == 40.0  # seconds 0..4: TTFI 0..40 ms, 20 samples; the 19th is 40
    assert p95["P"][19] == 990.0


@pytest.mark.parametrize(
    ("span", "width"), [(0.0, 1.0), (59.0, 1.0), (61.0, 2.0), (300.0, 5.0), (86_400.0, 1800.0)]
)
def test_bucket_width_is_nice_and_bounded(span: float, width: float) -> None:
    assert bucket_width(span) == width
    assert span / bucket_width(span) <= MAX_BUCKETS


def test_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert nearest_rank(values, 0.95) == 95.0
    assert nearest_rank(values, 0.5) == 50.0
    assert nearest_rank([7.0], 0.99) == 7.0


def test_a_short_run_gets_a_ttfi_curve_not_one_dot() -> None:
    # 20 s, 30 streams per env: a bucket for a 20-stream p95 would be wider than the run.
    records = [
        StreamRecord(START + i * 20 / 30, env, "f", "ok", 500.0, ttfi_ms=100.0 + i)
        for env in ("Production", "Development")
        for i in range(30)
    ]
    series = build_series(records)
    assert series is not None
    assert series.ttfi_width <= 20 / 3
    for env in ("Production", "Development"):
        points = [v for v in series.ttfi_p95[env] if v is not None]
        assert len(points) >= 3, series.ttfi_p95[env]
    # Every bucket starts inside the run: no dot drawn past its end.
    assert (len(series.ttfi_p95["Production"]) - 1) * series.ttfi_width < 20.5
