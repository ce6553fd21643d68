"""Tests of harness.stats: oracles for percentiles, merge/delta properties, error handling."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.results.stream import OUTCOMES, Outcome, StreamResult
from harness.stats import (
    ALL,
    DELTA_SCHEMA,
    METRICS,
    PERCENTILES,
    SUMMARY_KEYS,
    MetricHistogram,
    Recorder,
    StatsError,
    StreamStats,
)
from harness.stats.histogram import DURATION, ITL, LIMIT_USED, TTFI

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Recorder properties compute every view several times per example: fewer examples.
RECORDER_PROPS = settings(PROPS, max_examples=40)

in_range_s = st.floats(min_value=0.0, max_value=600.0)
# Mostly realistic latencies, sometimes anywhere in range, sometimes out of range or not finite.
any_s = st.one_of(
    st.floats(min_value=0.0, max_value=2.0),
    in_range_s,
    st.sampled_from([0.0, 1e-7, 600.0, 600.0000006, 700.0, -0.25, math.inf, -math.inf, math.nan]),
)


def oracle_percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile with HdrHistogram's rank rule (numpy-free oracle)."""
    ordered = sorted(values)
    rank = max(int(pct * len(ordered) / 100 + 0.5), 1)
    return ordered[rank - 1]


def record_all(metric: MetricHistogram, values: Sequence[float], batch: bool) -> None:
    if batch:
        metric.record_many(values)
    else:
        for value in values:
            metric.record(value)


# -- MetricHistogram ---------------------------------------------------------------------


@PROPS
@given(
    values=st.lists(in_range_s | st.floats(0.0, 0.01), min_size=1, max_size=300),
    batch=st.booleans(),
)
def test_percentiles_match_sorted_list_oracle(values: list[float], batch: bool) -> None:
    metric = MetricHistogram(ITL)
    record_all(metric, values, batch)
    summary = metric.summary()
    assert summary["count"] == len(values)
    assert summary["out_of_range"] == 0
    assert summary["min"] == round(min(values) * 1000, 6)
    assert summary["max"] == round(max(values) * 1000, 6)
    mean = summary["mean"]
    assert isinstance(mean, float)
    assert mean == pytest.approx(statistics.fmean(values) * 1000, rel=1e-9, abs=1e-5)
    for key, pct in PERCENTILES:
        expected_ms = oracle_percentile(values, pct) * 1000
        got = summary[key]
        assert isinstance(got, float)
        # 3 significant digits (relative 0.1 %) plus half a microsecond of quantisation.
        assert abs(got - expected_ms) <= expected_ms * 1e-3 + 0.0005 + 1e-9, (key, values)


@PROPS
@given(values=st.lists(any_s, max_size=200))
def test_record_many_equals_record_one_by_one(values: list[float]) -> None:
    one, many = MetricHistogram(ITL), MetricHistogram(ITL)
    record_all(one, values, batch=False)
    record_all(many, values, batch=True)
    a, b = one.summary(), many.summary()
    mean_a, mean_b = a.pop("mean"), b.pop("mean")
    assert (mean_a is None) == (mean_b is None) == (not values)
    if mean_a is not None:
        assert mean_a == pytest.approx(mean_b, rel=1e-9, abs=1e-5)
    assert a == b
    assert list(one._hdr.counts) == list(many._hdr.counts)
    assert one._hdr.get_total_count() == many._hdr.get_total_count() == len(values)


@PROPS
@given(parts=st.lists(st.lists(any_s, min_size=1, max_size=50), min_size=1, max_size=3))
def test_fast_percentiles_agree_with_hdrh(parts: list[list[float]]) -> None:
    metric = MetricHistogram(DURATION)
    for part in parts:  # merged and decoded histograms too: their max_value is a bucket edge
        piece = MetricHistogram(DURATION)
        piece.record_many(part)
        metric.merge(MetricHistogram.from_wire(DURATION, piece.to_wire()))
    expected = metric._hdr.get_percentile_to_value_dict([p for _, p in PERCENTILES])
    assert metric.percentile_units() == [expected[p] for _, p in PERCENTILES]


@PROPS
@given(
    before=st.lists(any_s, max_size=100),
    after=st.lists(any_s, max_size=100),
    batch=st.booleans(),
)
def test_since_a_mark_equals_a_histogram_of_the_later_samples(
    before: list[float], after: list[float], batch: bool
) -> None:
    metric, later_only = MetricHistogram(ITL), MetricHistogram(ITL)
    record_all(metric, before, batch)
    mark = metric.mark()
    record_all(metric, after, batch)
    record_all(later_only, after, batch)
    window = metric.since(mark)
    assert list(window._hdr.counts) == list(later_only._hdr.counts)
    got, expected = window.summary(), later_only.summary()
    assert got["count"] == expected["count"] == len(after)
    assert got["out_of_range"] == expected["out_of_range"]
    if after:
        assert window.percentile_units() == later_only.percentile_units()
        assert got["mean"] == pytest.approx(expected["mean"], rel=1e-9, abs=1e-5)
        # min and max (and percentiles clamped by them) at bucket precision: within 0.1 %
        # (3 significant digits) plus 1 us; out-of-range samples keep their exact value only
        # in the full histogram
        checked = ("min", "max", *(k for k, _ in PERCENTILES)) if not got["out_of_range"] else ()
        for key in checked:
            exact, bucket = expected[key], got[key]
            assert isinstance(exact, float)
            assert isinstance(bucket, float)
            assert abs(bucket - exact) <= abs(exact) * 1e-3 + 0.001, key


def test_since_a_mark_of_the_current_state_is_empty() -> None:
    metric = MetricHistogram(TTFI)
    metric.record_many([0.1, 0.2, 0.3])
    assert metric.since(metric.mark()).summary()["count"] == 0
    assert metric.summary()["count"] == 3  # marking changes nothing


@settings(max_examples=300, deadline=None)
@given(q=st.integers(min_value=0, max_value=DURATION.highest))
def test_inline_bucket_index_agrees_with_hdrh(q: int) -> None:
    metric = MetricHistogram(DURATION)
    metric.record_many([q / DURATION.scale])
    index = metric._hdr._counts_index_for(q)
    assert metric._hdr.counts[index] == 1
    assert metric._hdr.get_total_count() == 1


@PROPS
@given(values=st.lists(any_s, max_size=100), batch=st.booleans())
def test_out_of_range_samples_are_counted_and_clamped(values: list[float], batch: bool) -> None:
    metric = MetricHistogram(DURATION)
    record_all(metric, values, batch)
    expected_oor = sum(1 for v in values if not 0.0 <= v * 1e6 <= DURATION.highest)
    summary = metric.summary()
    assert summary["out_of_range"] == expected_oor
    assert summary["count"] == len(values)  # never dropped
    assert metric._hdr.get_total_count() == len(values)
    if values:
        p99_9, lo, hi = summary["p99.9"], summary["min"], summary["max"]
        assert isinstance(p99_9, float)
        assert isinstance(lo, float)
        assert isinstance(hi, float)
        assert lo <= p99_9 <= hi
        orjson.dumps(summary)  # finite: JSON-safe


def test_out_of_range_examples() -> None:
    metric = MetricHistogram(DURATION)
    for value in (700.0, math.nan, -1.0, 1.0):
        metric.record(value)
    summary = metric.summary()
    assert summary["out_of_range"] == 3
    assert summary["count"] == 4
    assert summary["max"] == 700_000.0  # the exact max keeps a finite raw value
    assert summary["min"] == -1000.0
    assert summary["p50"] == pytest.approx(1000.0, rel=1e-3)
    assert summary["p99"] == pytest.approx(600_000.0, rel=1e-3)  # clamped to 600 s


def test_zero_gaps_are_real_values() -> None:
    metric = MetricHistogram(ITL)
    metric.record_many([0.0, 0.0, 0.0, 0.004])
    summary = metric.summary()
    assert summary["count"] == 4
    assert summary["out_of_range"] == 0
    assert summary["min"] == 0.0
    assert summary["p50"] == 0.0
    assert summary["p90"] == 4.0
    assert summary["max"] == 4.0
    assert summary["mean"] == 1.0


def test_empty_summary_is_all_none() -> None:
    summary = MetricHistogram(LIMIT_USED).summary()
    assert summary == {"count": 0, "out_of_range": 0, **dict.fromkeys(SUMMARY_KEYS[1:])}
    assert list(summary)[: len(SUMMARY_KEYS)] == list(SUMMARY_KEYS)


def test_limit_used_is_a_fine_grained_ratio() -> None:
    metric = MetricHistogram(LIMIT_USED)
    for value in (0.000001, 0.5, 1.2345, 9.99, 12.0):
        metric.record(value)
    summary = metric.summary()
    assert summary["min"] == 0.000001
    assert summary["max"] == 12.0
    assert summary["out_of_range"] == 1
    assert summary["p50"] == pytest.approx(1.2345, rel=1e-3)


def test_merging_different_metrics_is_refused() -> None:
    with pytest.raises(StatsError, match="same metric"):
        MetricHistogram(ITL).merge(MetricHistogram(LIMIT_USED))


# -- StreamStats and the stats block -------------------------------------------------------


def result(
    *,
    env: str = "Production",
    flow: str = "orders",
    outcome: Outcome = Outcome.OK,
    duration_s: float = 1.0,
    limit_s: float = 300.0,
    ttfb_s: float | None = 0.05,
    ttfi_s: float | None = 0.1,
    gaps_s: tuple[float, ...] = (),
    items: int = 0,
    nbytes: int = 0,
    buffered: bool = False,
    redirects: int = 0,
    resent: int = 0,
) -> StreamResult:
    return StreamResult(
        env=env,
        flow=flow,
        outcome=outcome,
        started_at=1_700_000_000.0,
        duration_s=duration_s,
        limit_s=limit_s,
        ttfb_s=ttfb_s,
        ttfi_s=ttfi_s,
        gaps_s=gaps_s,
        items=items,
        bytes=nbytes,
        buffered=buffered,
        redirects=redirects,
        resent=resent,
    )


def test_block_shape_and_counters() -> None:
    stats = StreamStats()
    stats.record(result(gaps_s=(0.01, 0.02), items=3, nbytes=300, duration_s=3.0))
    stats.record(result(outcome=Outcome.TIMEOUT, ttfi_s=None, duration_s=150.0))
    stats.record(result(outcome=Outcome.CONNECT_ERROR, ttfb_s=None, ttfi_s=None, duration_s=0.0))
    block = stats.block(elapsed_s=10.0)
    assert block["streams"] == 3
    assert block["outcomes"] == {o.value: 0 for o in OUTCOMES} | {
        "ok": 1,
        "timeout": 1,
        "connect_error": 1,
    }
    assert block["error_rate"] == pytest.approx(2 / 3)
    assert block["items"] == 3
    assert block["bytes"] == 300
    assert block["streams_per_s"] == pytest.approx(0.3)
    assert block["items_per_s"] == pytest.approx(0.3)
    assert block["ttfb_ms"]["count"] == 2
    assert block["ttfi_ms"]["count"] == 1
    assert block["itl_ms"]["count"] == 2
    assert block["itl_ms"]["max"] == 20.0
    assert block["duration_ms"]["count"] == 3
    assert block["duration_ms"]["max"] == 150_000.0
    assert block["limit_used"]["max"] == 0.5
    assert block["buffered_streams"] == block["redirected_streams"] == block["resent_streams"] == 0
    assert set(block) == {
        "buffered_streams",
        "redirected_streams",
        "resent_streams",
        "streams",
        "outcomes",
        "error_rate",
        "items",
        "bytes",
        "streams_per_s",
        "items_per_s",
    } | {m.name for m in METRICS}
    orjson.dumps(block)


def test_empty_block_and_zero_elapsed() -> None:
    block = StreamStats().block(elapsed_s=0.0)
    assert block["streams"] == 0
    assert block["error_rate"] == 0.0
    assert block["streams_per_s"] == 0.0
    assert block["items_per_s"] == 0.0
    assert block["ttfi_ms"]["p95"] is None
    assert all(n == 0 for n in block["outcomes"].values())
    assert len(block["outcomes"]) == 9


@pytest.mark.parametrize("elapsed", [-1.0, math.nan, math.inf])
def test_bad_elapsed_is_an_error(elapsed: float) -> None:
    with pytest.raises(StatsError, match="elapsed_s"):
        StreamStats().block(elapsed)


# -- Recorder: merges and deltas ------------------------------------------------------------

maybe_s = st.none() | any_s
results = st.builds(
    StreamResult,
    env=st.sampled_from(["Production", "Test"]),
    flow=st.sampled_from(["orders", "quotes", "x"]),
    outcome=st.sampled_from(OUTCOMES),
    started_at=st.just(1_700_000_000.0),
    duration_s=st.floats(min_value=0.0, max_value=5000.0),
    limit_s=st.sampled_from([300.0, 1.0]),
    ttfb_s=maybe_s,
    ttfi_s=maybe_s,
    gaps_s=st.lists(any_s, max_size=20).map(tuple),
    items=st.integers(0, 1000),
    bytes=st.integers(0, 10**12),
)
batches = st.lists(results, max_size=12)


def recorder_of(items: Sequence[StreamResult]) -> Recorder:
    rec = Recorder()
    for item in items:
        rec.record(item)
    return rec


def views(rec: Recorder) -> dict[str, Any]:
    return {
        "keys": rec.keys(),
        "by_env_flow": rec.by_env_flow(12.5),
        "by_env": rec.by_env(12.5),
        "overall": rec.overall(12.5),
        "live": rec.live_rows(),
    }


def merged(*parts: Recorder) -> Recorder:
    total = Recorder()
    for part in parts:
        total.merge(part)
    return total


@RECORDER_PROPS
@given(a=batches, b=batches, c=batches)
def test_merge_is_associative_and_commutative(
    a: list[StreamResult], b: list[StreamResult], c: list[StreamResult]
) -> None:
    ra, rb, rc = recorder_of(a), recorder_of(b), recorder_of(c)
    left = merged(merged(ra, rb), rc)
    right = merged(ra, merged(rb, rc))
    swapped = merged(rc, rb, ra)
    assert views(left) == views(right) == views(swapped)
    assert views(left) == views(recorder_of(a + b + c))


@RECORDER_PROPS
@given(items=batches)
def test_delta_roundtrip_is_identity_and_resets(items: list[StreamResult]) -> None:
    source = recorder_of(items)
    before = views(source)
    delta = source.take_delta()
    assert isinstance(delta, bytes)
    assert source.keys() == []
    assert orjson.loads(source.take_delta()) == {"schema": DELTA_SCHEMA, "stats": []}
    target = Recorder()
    target.merge_delta(delta)
    assert views(target) == before


@RECORDER_PROPS
@given(a=batches, b=batches)
def test_merged_deltas_equal_one_recorder_of_the_union(
    a: list[StreamResult], b: list[StreamResult]
) -> None:
    master = Recorder()
    worker_a, worker_b = recorder_of(a[: len(a) // 2]), recorder_of(b)
    master.merge_delta(worker_a.take_delta())
    for item in a[len(a) // 2 :]:  # the worker keeps recording after its first report
        worker_a.record(item)
    master.merge_delta(worker_b.take_delta())
    master.merge_delta(orjson.loads(worker_a.take_delta()))  # a parsed dict works too
    assert views(master) == views(recorder_of(a + b))


def test_by_env_percentiles_come_from_merged_data() -> None:
    fast = [0.001 * (i + 1) for i in range(90)]  # 1..90 ms
    slow = [1.0 + 0.001 * i for i in range(10)]  # 1000..1009 ms
    rec = Recorder()
    for ttfi in fast:
        rec.record(result(flow="fast", ttfi_s=ttfi))
    for ttfi in slow:
        rec.record(result(flow="slow", ttfi_s=ttfi))
    env_ttfi = rec.by_env(1.0)["Production"]["ttfi_ms"]
    for key, pct in PERCENTILES:
        expected = oracle_percentile(fast + slow, pct) * 1000
        assert env_ttfi[key] == pytest.approx(expected, rel=1e-3), key
    assert env_ttfi["count"] == 100
    assert rec.overall(1.0)["ttfi_ms"] == env_ttfi
    assert [(b["env"], b["flow"]) for b in rec.by_env_flow(1.0)] == [
        ("Production", "fast"),
        ("Production", "slow"),
    ]


def test_live_rows_per_flow_env_totals_and_overall() -> None:
    rec = Recorder()
    rec.record(result(env="Test", flow="b", gaps_s=(0.002,), duration_s=30.0))
    rec.record(result(env="Test", flow="a", outcome=Outcome.STALLED, duration_s=60.0))
    rec.record(result(env="Production", flow="a", ttfi_s=0.25, duration_s=3.0))
    rows = rec.live_rows()
    assert [(r["env"], r["flow"]) for r in rows] == [
        ("Production", "a"),
        ("Production", ALL),
        ("Test", "a"),
        ("Test", "b"),
        ("Test", ALL),
        (ALL, ALL),
    ]
    test_total = rows[4]
    assert test_total["streams"] == 2
    assert test_total["ok_pct"] == 50.0
    assert test_total["outcomes"]["stalled"] == 1
    assert test_total["itl_p50_ms"] == 2.0
    assert test_total["duration_max_ms"] == 60_000.0
    assert test_total["limit_used_max"] == 0.2
    assert rows[0]["ttfi_p95_ms"] == 250.0
    assert rows[-1]["streams"] == 3
    assert rows[2]["itl_p99_ms"] is None
    orjson.dumps(rows)
    assert Recorder().live_rows() == []


def test_stats_lookup_names_known_keys() -> None:
    rec = recorder_of([result()])
    assert rec.stats("Production", "orders").streams == 1
    with pytest.raises(StatsError, match="Production/orders"):
        rec.stats("Test", "orders")


def good_delta() -> dict[str, Any]:
    rec = recorder_of([result(gaps_s=(0.1, 0.2))])
    parsed: dict[str, Any] = orjson.loads(rec.take_delta())
    return parsed


def corrupt(path: Sequence[str | int], value: object) -> dict[str, Any]:
    delta = good_delta()
    node: Any = delta
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return delta


@pytest.mark.parametrize(
    ("delta", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "schema"),
        (orjson.dumps({"schema": "flowload.stats-delta/0", "stats": []}), "same flowload"),
        (orjson.dumps({"schema": DELTA_SCHEMA}), "'stats' list"),
        (corrupt(["stats", 0, "env"], 3), "env/flow"),
        (corrupt(["stats", 0, "streams"], "many"), "malformed stream counters"),
        (corrupt(["stats", 0, "outcomes"], {"fine": 1}), "limit_exceeded"),
        (corrupt(["stats", 0, "metrics", "bogus_ms"], {}), "unknown metric"),
        (corrupt(["stats", 0, "metrics", "itl_ms", "h"], "AAAA"), "malformed 'itl_ms'"),
        (corrupt(["stats", 0, "metrics", "itl_ms", "n"], 5), "corrupt"),
    ],
)
def test_bad_deltas_are_refused_and_change_nothing(
    delta: bytes | dict[str, Any], message: str
) -> None:
    rec = recorder_of([result(env="Test")])
    before = views(rec)
    with pytest.raises(StatsError, match=message):
        rec.merge_delta(delta)
    assert views(rec) == before


def test_delta_is_compact() -> None:
    rec = recorder_of([result(gaps_s=tuple(0.001 * i for i in range(1000))) for _ in range(100)])
    delta = rec.take_delta()
    assert len(delta) < 8000  # 100 streams, 100k gaps: a few kB, not a list of samples


def test_notes_count_buffered_redirected_and_resent_streams_and_merge() -> None:
    stats = StreamStats()
    stats.record(result(buffered=True))
    stats.record(result(redirects=2, resent=1))
    stats.record(result())
    other = StreamStats.from_wire(stats.to_wire())
    other.merge(stats)
    block = other.block(elapsed_s=1.0)
    assert (block["buffered_streams"], block["redirected_streams"], block["resent_streams"]) == (
        2,
        2,
        2,
    )
