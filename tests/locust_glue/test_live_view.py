"""Tests of harness.locust_glue.live_view: windows, resets, bounded series (no Locust needed)."""

from __future__ import annotations

import pytest

from harness.locust_glue.live_view import MAX_POINTS, SERIES, WINDOW_S, LiveView
from harness.results.stream import StreamResult
from harness.stats import Recorder
from tests.builders import stream_result


def stream(env: str, ttfi_s: float, items: int = 4, gap_s: float = 0.05) -> StreamResult:
    return stream_result(
        env, ttfi_s=ttfi_s, duration_s=1.0, gaps_s=(gap_s,) * (items - 1), items=items, bytes=100
    )


def test_points_describe_the_last_window_not_the_whole_run() -> None:
    view = LiveView(["Production"])
    view.reset(100.0, ["Production"])
    for _ in range(20):  # fast streams in the first seconds
        view.record(stream("Production", 0.1))
    view.sample(102.0, {"Production": 3})
    first = view.latest()["Production"]
    assert first["streams_per_s"] == pytest.approx(20 / 2.0)
    assert first["items_per_s"] == pytest.approx(80 / 2.0)
    assert first["ttfi_p95_ms"] == pytest.approx(100.0, rel=1e-3)
    assert first["itl_p99_ms"] == pytest.approx(50.0, rel=1e-3)
    assert first["in_flight"] == 3.0
    # Much later, only slow streams end: the window no longer holds the fast ones.
    for t in range(4, 30, 2):
        view.sample(100.0 + t, {"Production": 1})
    for _ in range(10):
        view.record(stream("Production", 2.0, gap_s=0.5))
    view.sample(130.0, {})
    last = view.latest()["Production"]
    assert last["ttfi_p95_ms"] == pytest.approx(2000.0, rel=1e-3)
    assert last["itl_p99_ms"] == pytest.approx(500.0, rel=1e-3)
    assert last["streams_per_s"] == pytest.approx(10 / WINDOW_S)
    assert last["in_flight"] == 0.0
    assert view.times[0] == 2.0
    assert view.times[-1] == 30.0


def test_a_window_without_streams_has_no_percentiles_and_zero_rates() -> None:
    view = LiveView()
    view.record(stream("Test", 0.3))
    view.sample(2.0, {"Test": 1})
    for t in range(4, 20, 2):
        view.sample(float(t), {"Test": 1})
    quiet = view.latest()["Test"]
    assert quiet["ttfi_p95_ms"] is None
    assert quiet["itl_p99_ms"] is None
    assert quiet["streams_per_s"] == 0.0
    assert quiet["in_flight"] == 1.0


def test_reset_forgets_streams_and_points() -> None:
    view = LiveView(["Production"])
    view.record(stream("Production", 0.2))
    view.sample(2.0, {"Production": 1})
    view.reset(50.0, ["Production", "Test"])
    assert view.recorder.live_rows() == []
    assert view.to_json()["t"] == []
    assert view.latest() == {}
    view.sample(52.0, {})
    assert view.times == [2.0]
    assert set(view.series) == {"Production", "Test"}


def test_an_env_that_appears_later_is_padded_to_the_time_axis() -> None:
    view = LiveView(["Production"])
    view.sample(2.0, {})
    view.sample(4.0, {})
    view.record(stream("Test", 0.2))
    view.sample(6.0, {"Test": 2})
    assert view.envs == ["Production", "Test"]
    for env in view.envs:
        for name in SERIES:
            assert len(view.series[env][name]) == len(view.times) == 3
    assert view.series["Test"]["in_flight"] == [None, None, 2.0]


def test_long_runs_keep_a_bounded_series_with_the_newest_point() -> None:
    view = LiveView(["Production"])
    for i in range(1, 3 * MAX_POINTS):
        view.sample(2.0 * i, {"Production": i})
    assert len(view.times) <= MAX_POINTS
    assert view.times[-1] == 2.0 * (3 * MAX_POINTS - 1)
    assert view.series["Production"]["in_flight"][-1] == 3 * MAX_POINTS - 1
    assert view.times == sorted(view.times)


def test_a_workers_delta_counts_like_the_streams_themselves() -> None:
    streams = [stream("Production", 0.1 + i / 100) for i in range(30)]
    direct, merged = LiveView(), LiveView()
    worker = Recorder()
    for result in streams:
        direct.record(result)
        worker.record(result)
    merged.merge_delta(worker.take_delta())
    direct.sample(2.0, {})
    merged.sample(2.0, {})
    assert direct.latest() == merged.latest()
    assert direct.recorder.live_rows() == merged.recorder.live_rows()
