"""The whole analysis: per-env results, the recommendation sentence, JSON, degenerate input."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.capacity import (
    SCHEMA,
    AnalysisOptions,
    CapacityError,
    analyze,
    analyze_summary,
    slo_from_exprs,
    usl_throughput,
)
from tests.capacity_data import arrival_rate, block, closed_loop, linear, make_step

SLO = slo_from_exprs(["ttfi.p95 < 800ms", "error_rate <= 1%"])
STEPS = [5, 10, 20, 40, 80, 120]


def test_two_envs_with_different_capacity_get_their_own_figures() -> None:
    result = analyze(
        {
            "Production": closed_loop(STEPS, slots=55, noise=0.03, seed=11),
            "Test": closed_loop(STEPS, slots=15, noise=0.03, seed=12),
        },
        SLO,
    )
    for env, slots in (("Production", 55), ("Test", 15)):
        estimate = result.env(env).saturation.estimated_load
        assert estimate is not None
        assert abs(estimate - slots) <= 0.2 * slots
    prod = result.recommendation("Production")
    assert re.fullmatch(
        r"Production: plan for 40 concurrent streams \(2\d streams/s\): the highest measured "
        r"step within the SLO \(TTFI p95 < 800 ms, error rate <= 1%\) and not past saturation; "
        r"saturates at ~5\d concurrent streams \(at most ~2\d streams/s completed\)",
        prod,
    ), prod
    assert re.match(
        r"Test: plan for 10 concurrent streams \([45]\.?\d* streams/s\)",
        result.recommendation("Test"),
    )


@pytest.mark.parametrize("slots", [8, 18, 30])
def test_the_figure_never_lies_past_the_knee(slots: int) -> None:
    # K slots: steps above K still meet the SLO for a while (they queue), but K is the capacity.
    env = analyze({"Production": closed_loop(STEPS, slots=slots)}, SLO).env("Production")
    figure = env.recommended.step
    estimate = env.saturation.estimated_load
    assert figure is not None
    assert estimate is not None
    assert figure.load <= estimate
    assert figure.load == max(n for n in STEPS if n <= slots)
    best = env.selection.best
    assert best is not None
    if best.load > slots:  # a step past the knee met the SLO: said first, never the figure
        assert env.recommended.past_knee is best
        assert env.caveats[0].startswith(f"{best.load:g} concurrent streams also met the SLO")
        assert "past saturation" in env.caveats[0]


def test_the_sentence_uses_one_unit_and_no_false_precision() -> None:
    # The demo's figures: 12 users met the SLO, the knee estimate is 8.06, 16.76 streams/s.
    steps = [
        make_step(i, n, "users", block(streams_per_s=x, duration_ms=n / x * 1000, ttfi_p95_ms=t))
        for i, (n, x, t) in enumerate(
            [(2, 4.3, 230), (4, 8.5, 232), (8, 16.3, 236), (12, 16.76, 598), (20, 16.8, 1400)]
        )
    ]
    env = analyze({"Production": steps}, SLO).env("Production")
    text = analyze({"Production": steps}, SLO).recommendation("Production")
    assert text.startswith("Production: plan for 8 concurrent streams (16 streams/s): ")
    assert "saturates at ~8 concurrent streams (at most ~17 streams/s completed)" in text
    assert "8.06" not in text
    assert "users" not in text
    assert env.caveats[0].startswith(
        "12 concurrent streams also met the SLO (TTFI p95 598 ms there), but lies past saturation"
    )


def test_recommendation_when_no_step_meets_the_slo() -> None:
    result = analyze({"Production": closed_loop(STEPS, slots=2)}, SLO)
    text = result.recommendation("Production")
    assert text.startswith(
        "Production: no figure to plan with: no measured step meets the SLO (TTFI p95 < 800 ms"
    )
    assert "; at 5 concurrent streams: TTFI p95 < 800 ms: observed 3200 ms" in text
    caveats = " | ".join(result.env("Production").caveats)
    assert "saturated from the lowest step on" in caveats


def test_recommendation_without_saturation_or_slo() -> None:
    result = analyze({"Test": linear([5, 10, 20, 40])}, slo_from_exprs([]))
    assert result.recommendation("Test") == (
        "Test: plan for 40 concurrent streams (20 streams/s): the highest measured step (no SLO "
        "set); no saturation up to 40 concurrent streams (the highest step): it may take more"
    )


def test_usl_peak_is_quoted_when_saturation_was_not_reached() -> None:
    loads = [2, 4, 8, 16, 24, 32]
    steps = [
        make_step(
            i,
            n,
            "users",
            block(
                streams_per_s=usl_throughput(n, 0.02, 0.0005, 1.0),
                duration_ms=n / usl_throughput(n, 0.02, 0.0005, 1.0) * 1000,
                ttfi_p95_ms=100,
            ),
        )
        for i, n in enumerate(loads)
    ]
    env = analyze({"Production": steps}, SLO).env("Production")
    assert env.saturation.status == "not_found"
    assert env.usl is not None
    text = analyze({"Production": steps}, SLO).recommendation("Production")
    assert text.endswith(
        "no saturation up to 32 concurrent streams (the highest step): it may take more "
        "(USL model: peak ~44 in flight, extrapolated)"
    )
    assert any("lies outside the measured range 2..32" in c for c in env.caveats)


def test_arrival_rate_runs_are_described_in_rates() -> None:
    result = analyze({"Development": arrival_rate([1, 2, 4, 8, 16], slots=10)}, SLO)
    assert result.recommendation("Development") == (
        "Development: plan for 4 streams/s arrival rate (4 streams/s completed, about 8 "
        "concurrent streams): the highest measured arrival rate within the SLO (TTFI p95 < 800 "
        "ms, error rate <= 1%) and not past saturation; saturates at ~5 streams/s arrival rate "
        "(at most ~5 streams/s completed)"
    )
    env = result.env("Development")
    assert env.load_kind == "rate"
    assert "Little's law" in env.usl_note


def test_per_env_objectives_apply_to_that_env_only() -> None:
    slo = slo_from_exprs(["error_rate <= 1%"], {"Production": ["ttfi.p95 < 800ms"]})
    steps = closed_loop(STEPS, slots=15)
    result = analyze({"Production": steps, "Test": steps}, slo)
    best_prod = result.env("Production").selection.best
    best_test = result.env("Test").selection.best
    assert best_prod is not None
    assert best_test is not None
    assert (best_prod.load, best_test.load) == (10, 120)


def test_to_json_is_plain_json_with_every_part() -> None:
    result = analyze({"Production": closed_loop(STEPS, slots=55)}, SLO, notes=["from gates"])
    data = orjson.loads(orjson.dumps(result.to_json()))
    assert data["schema"] == SCHEMA
    assert data["limit_s"] == 300.0
    assert data["notes"] == ["from gates"]
    prod = data["envs"]["Production"]
    assert set(prod) == {
        "env",
        "load_kind",
        "steps",
        "slo",
        "selection",
        "recommended",
        "saturation",
        "usl",
        "usl_curve",
        "usl_note",
        "littles_law",
        "headroom",
        "caveats",
    }
    assert prod["selection"]["best_load"] == 40
    assert prod["recommended"]["load"] == 40
    assert prod["recommended"]["concurrent_streams"] == 40
    assert prod["saturation"]["status"] == "found"
    assert prod["usl"]["r_squared"] > 0.9
    assert len(prod["usl_curve"]) == 60
    assert prod["usl_curve"][0] == [0.0, 0.0]
    assert prod["usl_curve"][-1][0] >= 120  # the highest step, or 1.25x a credible peak
    assert len(prod["littles_law"]) == len(prod["headroom"]) == len(STEPS)
    assert data["recommendations"]["Production"] == result.recommendation("Production")


def test_caveats_flag_little_gaps_headroom_and_thin_steps() -> None:
    steps = [
        make_step(
            i,
            n,
            "users",
            block(streams_per_s=n / 20, duration_ms=250_000, ttfi_p95_ms=100, elapsed_s=20),
        )
        for i, n in enumerate([5, 10, 20])
    ]
    caveats = analyze({"Test": steps}, SLO).env("Test").caveats
    text = " | ".join(caveats)
    assert "Little's law does not hold at 3 step(s)" in text
    assert "streams come close to the 300 s limit from 5 on" in text
    assert "3 step(s) have fewer than 30 streams" in text


def test_unknown_env_names_the_analysed_ones() -> None:
    result = analyze({"Production": closed_loop(STEPS, slots=5)}, SLO)
    with pytest.raises(CapacityError, match=r"no capacity analysis for env 'Prod'.*Production"):
        result.recommendation("Prod")


@pytest.mark.parametrize("loads", [[], [5], [5, 10]])
def test_one_or_two_steps_give_insufficient_data_not_exceptions(loads: list[float]) -> None:
    result = analyze({"Test": closed_loop(loads, slots=8)}, SLO)
    env = result.env("Test")
    assert env.saturation.status == "insufficient_data"
    assert env.usl is None
    assert env.usl_note.startswith("no USL fit: a USL fit needs at least 3 distinct")
    text = result.recommendation("Test")
    assert text.endswith("too few steps to locate saturation") or text == "Test: no steps measured"
    orjson.dumps(result.to_json())


def test_zero_throughput_steps_analyse_cleanly() -> None:
    steps = [
        make_step(i, n, "users", block(streams_per_s=0.0, duration_ms=0, ttfi_p95_ms=0))
        for i, n in enumerate([5, 10, 20])
    ]
    result = analyze({"Test": steps}, SLO)
    assert result.recommendation("Test") == (
        "Test: no figure to plan with: no measured step meets the SLO (TTFI p95 < 800 ms, error "
        "rate <= 1%); at 5 concurrent streams: no streams completed in this step"
    )
    assert result.env("Test").usl is None


def test_analyze_summary_reads_steps_per_env_and_the_limit() -> None:
    prod = closed_loop(STEPS, slots=30)
    summary: dict[str, Any] = {
        "schema": "flowload.summary/1",
        "run": {"limit_s": 120},
        "steps": [
            {
                "step": s.step,
                "users": s.load,
                "started": s.started,
                "ended": s.ended,
                "overall": dict(s.stats),
                "by_env": {"Production": dict(s.stats)},
            }
            for s in prod
        ],
    }
    result = analyze_summary(orjson.loads(orjson.dumps(summary)), SLO)
    assert set(result.envs) == {"*", "Production"}
    assert result.options.limit_s == 120
    assert result.env("Production").selection.best is not None


def test_a_summary_without_steps_says_how_to_get_one() -> None:
    with pytest.raises(CapacityError, match=r"no 'steps'.*flowload capacity"):
        analyze_summary({"schema": "flowload.summary/1"}, SLO)


def test_mixed_load_kinds_in_one_env_are_rejected() -> None:
    steps = [*closed_loop([5, 10], slots=4), *arrival_rate([1.0], slots=4)]
    with pytest.raises(CapacityError, match="mix stepped users and arrival rates"):
        analyze({"Test": steps}, SLO)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit_s": 0}, "limit_s"),
        ({"limit_s": math.nan}, "limit_s"),
        ({"min_streams": -1}, "min_streams"),
    ],
)
def test_invalid_options_are_capacity_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(CapacityError, match=message):
        AnalysisOptions(**options)


_figure = st.sampled_from([0.0, -1.0, math.nan, math.inf]) | st.floats(0, 1e6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.floats(0.5, 500), _figure, _figure, _figure, _figure),
        max_size=6,
        unique_by=lambda t: t[0],
    )
)
def test_any_figures_give_a_result_or_a_capacity_error(
    rows: list[tuple[float, float, float, float, float]],
) -> None:
    steps = []
    for i, (load, x, duration, ttfi, used) in enumerate(rows):
        stats = block(streams_per_s=10, duration_ms=1000, ttfi_p95_ms=100)
        stats.update(streams_per_s=x, error_rate=used)
        stats["duration_ms"] = {**stats["duration_ms"], "mean": duration}
        stats["ttfi_ms"] = {**stats["ttfi_ms"], "p95": ttfi}
        stats["limit_used"] = {**stats["limit_used"], "max": used, "p99": used}
        steps.append(make_step(i, load, "users", stats))
    try:
        result = analyze({"Production": steps}, SLO)
    except CapacityError:
        return
    text = orjson.dumps(result.to_json()).decode()
    assert "NaN" not in text
    assert result.recommendation("Production").startswith("Production: ")
