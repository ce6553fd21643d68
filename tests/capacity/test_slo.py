"""SLO objectives: the gate-like and flat grammars, tables, gates, and step selection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capacity import (
    CapacityError,
    Objective,
    parse_objective,
    select_step,
    slo_from_exprs,
    slo_from_gates,
    slo_from_table,
)
from harness.capacity.slo import check_step
from harness.config import GateConfig
from harness.criteria import Op
from harness.flow_api import Env
from tests.capacity_data import block, closed_loop, make_step


@pytest.mark.parametrize(
    ("text", "block_name", "stat", "op", "threshold"),
    [
        ("ttfi.p95 < 800ms", "ttfi_ms", "p95", "<", 800.0),
        ("ttfi_p95_ms <= 800", "ttfi_ms", "p95", "<=", 800.0),
        ("ttfi_ms.p99 <= 1.5s", "ttfi_ms", "p99", "<=", 1500.0),
        ("duration.p99 <= 2s", "duration_ms", "p99", "<=", 2000.0),
        ("duration_p99_s <= 2", "duration_ms", "p99", "<=", 2000.0),
        ("ttfi_p999_ms <= 900", "ttfi_ms", "p99.9", "<=", 900.0),
        ("itl.p99.9 < 50 ms", "itl_ms", "p99.9", "<", 50.0),
        ("ttfi < 800", "ttfi_ms", "p95", "<", 800.0),
        ("error_rate <= 1%", "error_rate", None, "<=", 0.01),
        ("error_rate < 0.02", "error_rate", None, "<", 0.02),
        ("limit_used.max < 80%", "limit_used", "max", "<", 0.8),
        ("limit_used_p99 <= 0.5", "limit_used", "p99", "<=", 0.5),
        ("streams_per_s >= 4", "streams_per_s", None, ">=", 4.0),
        ("outcomes.timeout <= 0", "outcomes.timeout", None, "<=", 0.0),
    ],
)
def test_objectives_parse_from_both_spellings(
    text: str, block_name: str, stat: str | None, op: str, threshold: float
) -> None:
    objective = parse_objective(text)
    assert objective == Objective(block_name, stat, op, pytest.approx(threshold))  # type: ignore[arg-type]
    assert objective.text == text.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tffi.p95 < 800ms", "SLO 'tffi.p95 < 800ms': unknown metric 'tffi'.*ttfb, ttfi"),
        ("ttfi.p97 < 800ms", "unknown statistic 'p97'.*one of count, min"),
        ("ttfi.p95 =< 800ms", "unknown operator '=<'"),
        ("ttfi.p95 < 80%", "unit '%' does not fit ttfi.p95 \\(accepted: ms, s"),
        ("error_rate < 5ms", "unit 'ms' does not fit error_rate"),
        ("streams_per_s > 5%", "unit '%' does not fit streams_per_s"),
        ("ttfi.p95 below 800", "no comparison operator"),
        ("", "the expression is empty"),
        ("error_rate.p95 < 1%", "error_rate takes no statistic"),
        ("Production/orders: ttfi.p95 < 1s", "judged per env and per step"),
        ("ttfi.p95 <= baseline * 1.1", "judged per env and per step"),
    ],
)
def test_bad_objectives_say_what_is_valid(text: str, message: str) -> None:
    with pytest.raises(CapacityError, match=message):
        parse_objective(text)


def test_a_non_string_objective_is_a_capacity_error() -> None:
    with pytest.raises(CapacityError, match="must be a string"):
        parse_objective(800)  # type: ignore[arg-type]


def test_describe_reads_like_the_recommendation() -> None:
    assert parse_objective("ttfi_p95_ms < 800").describe() == "TTFI p95 < 800 ms"
    assert parse_objective("error_rate <= 1%").describe() == "error rate <= 1%"
    assert parse_objective("limit_used.max < 0.8").describe() == "limit used max < 80%"
    assert parse_objective("streams_per_s >= 4").describe() == "streams/s >= 4"
    assert parse_objective("duration.p99 <= 120s").describe() == "duration p99 <= 120 s"
    assert parse_objective("ttfi.p95 < 1234.5ms").describe() == "TTFI p95 < 1234 ms"


def test_a_capacity_slo_table_with_per_env_objectives() -> None:
    slo = slo_from_table(
        {
            "ttfi_p95_ms": 800,
            "error_rate": "< 1%",
            "Production": {"duration.p99": "<= 120s"},
        }
    )
    assert slo.for_env("Test") == (
        Objective("ttfi_ms", "p95", Op.LE, 800.0),
        Objective("error_rate", None, Op.LT, 0.01),
    )
    assert slo.for_env("Production")[-1] == Objective("duration_ms", "p99", Op.LE, 120000.0)
    assert slo.describe("Test") == "TTFI p95 <= 800 ms, error rate < 1%"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"ttfi_p95_ms": True}, "got a bool"),
        ({"ttfi_p95_ms": [800]}, "got list"),
        ({"Production": {"ttfi_p95_ms": None}}, r"Production\.ttfi_p95_ms"),
        ({"ttfi_p95": "<< 3"}, "unknown operator '<<'"),
    ],
)
def test_bad_slo_tables_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(CapacityError, match=message):
        slo_from_table(table)


def test_slo_table_must_be_a_table() -> None:
    with pytest.raises(CapacityError, match="must be a table"):
        slo_from_table(["ttfi_p95_ms <= 800"])  # type: ignore[arg-type]


def test_gates_become_objectives_and_unusable_ones_are_noted() -> None:
    slo, notes = slo_from_gates(
        [
            GateConfig("error_rate < 1%"),
            GateConfig("ttfi.p95 < 800ms", env=Env.PRODUCTION),
            GateConfig("ttfi.p95 < 300ms", flow="orders"),
            GateConfig("ttfi.p95 <= baseline * 1.10"),
        ]
    )
    assert slo.common == (Objective("error_rate", None, Op.LT, 0.01),)
    assert slo.for_env("Production")[-1] == Objective("ttfi_ms", "p95", Op.LT, 800.0)
    assert slo.for_env("Test") == slo.common
    assert len(notes) == 2
    assert "flow 'orders'" in notes[0]
    assert "baseline" in notes[1]


def test_slo_from_exprs() -> None:
    slo = slo_from_exprs(["ttfi.p95 < 800ms"], {"Test": ["error_rate <= 5%"]})
    assert [o.describe() for o in slo.for_env("Test")] == [
        "TTFI p95 < 800 ms",
        "error rate <= 5%",
    ]


def test_highest_step_within_slo_is_selected() -> None:
    # K = 20 slots, 2 s service, 0.2 s TTFI: queueing from 20 users on pushes TTFI up.
    steps = closed_loop([5, 10, 20, 40, 80], slots=20)
    selection = select_step(steps, slo_from_exprs(["ttfi.p95 < 800ms"]).common)
    assert selection.best is not None
    assert selection.best.load == 20
    assert selection.first_failure is not None
    assert selection.first_failure.step.load == 40
    assert "TTFI p95 < 800 ms: observed 2200 ms" in selection.first_failure.failures
    assert [c.passed for c in selection.checks] == [True, True, True, False, False]
    assert not selection.passes_above_failure
    assert selection.to_json()["best_load"] == 20


def test_a_pass_above_a_failure_is_not_trusted() -> None:
    steps = [
        make_step(0, 5, "users", block(streams_per_s=2, duration_ms=2000, ttfi_p95_ms=300)),
        make_step(1, 10, "users", block(streams_per_s=4, duration_ms=2000, ttfi_p95_ms=900)),
        make_step(2, 20, "users", block(streams_per_s=8, duration_ms=2000, ttfi_p95_ms=300)),
    ]
    selection = select_step(steps, [parse_objective("ttfi.p95 < 800ms")])
    assert selection.best is not None
    assert selection.best.load == 5
    assert selection.passes_above_failure


def test_no_step_meets_the_slo() -> None:
    steps = closed_loop([5, 10], slots=1)
    selection = select_step(steps, [parse_objective("ttfi.p95 < 100ms")])
    assert selection.best is None
    assert selection.first_failure is not None
    assert selection.first_failure.step.load == 5


def test_a_step_without_streams_or_data_cannot_pass() -> None:
    empty = make_step(0, 5, "users", {"streams": 0, "streams_per_s": 0.0})
    check = check_step(empty, [parse_objective("ttfi.p95 < 800ms")])
    assert not check.passed
    assert check.failures == ("no streams completed in this step", "TTFI p95 < 800 ms: no data")


def test_without_objectives_the_highest_step_with_streams_is_best() -> None:
    steps = closed_loop([5, 10, 20], slots=8)
    assert select_step(steps, ()).best == steps[-1]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(1, 2000), min_size=1, max_size=8), st.floats(1, 2000))
def test_best_step_passes_and_so_does_every_step_below_it(ttfis: list[float], limit: float) -> None:
    steps = [
        make_step(i, 5 * (i + 1), "users", block(streams_per_s=i + 1, duration_ms=1, ttfi_p95_ms=t))
        for i, t in enumerate(ttfis)
    ]
    objective = parse_objective(f"ttfi.p95 <= {limit}ms")
    selection = select_step(steps, [objective])
    passing = [objective.met_by(t) for t in ttfis]
    if selection.best is None:
        assert not passing[0]
    else:
        index = selection.best.step
        assert all(passing[: index + 1])
        assert index + 1 == len(passing) or not passing[index + 1]
    assert selection.passes_above_failure == any(
        p for i, p in enumerate(passing) if not all(passing[:i])
    )
