"""Tests of harness.criteria.grammar: gate expressions, selectors, units, errors, round trip."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.config import GateConfig
from harness.criteria.vocabulary import (
    BLOCK_METRICS,
    OPS,
    OUTCOME_NAMES,
    SCALAR_METRICS,
    SIGNIFICANCE_FIELDS,
    STATS,
    Kind,
    MetricRef,
)
from harness.errors import ConfigError
from harness.flow_api import Env
from harness.gates import Gate, GateError, Op, Threshold, gate_from_config, parse_gate

# The gates documentation's examples, with the stats-block path and threshold they must mean.
ISSUE_EXAMPLES = [
    ("ttfi.p95 < 800ms", ("ttfi_ms", "p95"), Op.LT, 800.0),
    ("itl.p99 <= 250ms", ("itl_ms", "p99"), Op.LE, 250.0),
    ("duration.max < 240s", ("duration_ms", "max"), Op.LT, 240_000.0),
    ("limit_used.max < 0.8", ("limit_used", "max"), Op.LT, 0.8),
    ("ttfb.p50 < 300ms", ("ttfb_ms", "p50"), Op.LT, 300.0),
    ("error_rate < 1%", ("error_rate",), Op.LT, 0.01),
    ("outcomes.stalled == 0", ("outcomes", "stalled"), Op.EQ, 0.0),
    ("outcomes.limit_exceeded == 0", ("outcomes", "limit_exceeded"), Op.EQ, 0.0),
    ("streams_per_s >= 5", ("streams_per_s",), Op.GE, 5.0),
    ("items_per_s > 100", ("items_per_s",), Op.GT, 100.0),
]


@pytest.mark.parametrize(("text", "path", "op", "threshold"), ISSUE_EXAMPLES)
def test_issue_examples_parse_to_their_meaning(
    text: str, path: tuple[str, ...], op: Op, threshold: float
) -> None:
    gate = parse_gate(text)
    assert gate.metric.path == path
    assert gate.op is op
    resolved = gate.threshold.resolve(gate.metric.kind)
    assert resolved is not None
    assert math.isclose(resolved, threshold)
    assert gate.env is None
    assert gate.flow is None
    assert gate.expr == text


@pytest.mark.parametrize(
    ("text", "threshold"),
    [
        ("ttfi.p95 < 800", 800.0),  # a bare time is in ms, the summary's unit
        ("ttfi.p95 < 0.8s", 800.0),
        ("ttfi.p95 < 800 ms", 800.0),
        ("limit_used.p99 <= 80%", 0.8),
        ("error_rate <= 0.5%", 0.005),
        ("error_rate <= 0.005", 0.005),
        ("duration.p99.9 < 1.5e2s", 150_000.0),
        ("ttfi.p95 < .5s", 500.0),
    ],
)
def test_units_convert_to_the_summary_unit(text: str, threshold: float) -> None:
    gate = parse_gate(text)
    resolved = gate.threshold.resolve(gate.metric.kind)
    assert resolved is not None
    assert math.isclose(resolved, threshold)


def test_block_keys_and_case_are_accepted() -> None:
    assert parse_gate("ttfi_ms.p95 < 800ms") == parse_gate("ttfi.p95 < 800ms")
    assert parse_gate("TTFI.P95 < 800ms") == parse_gate("ttfi.p95 < 800ms")
    assert parse_gate("ttfi.p95<800ms") == parse_gate("  ttfi.p95   <   800ms  ")


def test_count_stat_is_a_count_without_units() -> None:
    gate = parse_gate("ttfi.count >= 100")
    assert gate.metric.kind is Kind.COUNT
    with pytest.raises(GateError, match=r"does not fit ttfi\.count"):
        parse_gate("ttfi.count >= 100ms")


@pytest.mark.parametrize(
    ("text", "env", "flow"),
    [
        ("Production: ttfi.p95 < 800ms", Env.PRODUCTION, None),
        ("production/orders: ttfi.p95 < 800ms", Env.PRODUCTION, "orders"),
        ("2: ttfi.p95 < 800ms", Env.PRODUCTION, None),
        ("0/chat answer : ttfi.p95 < 800ms", Env.DEVELOPMENT, "chat answer"),
        ("*/orders: ttfi.p95 < 800ms", None, "orders"),
        ("*: ttfi.p95 < 800ms", None, None),
    ],
)
def test_selector_prefix(text: str, env: Env | None, flow: str | None) -> None:
    gate = parse_gate(text)
    assert (gate.env, gate.flow) == (env, flow)
    assert parse_gate(gate.label) == gate


def test_labels_show_the_selector() -> None:
    assert parse_gate("Test/orders: error_rate < 1%").label == "Test/orders: error_rate < 1%"
    assert parse_gate("*/orders: error_rate < 1%").label == "*/orders: error_rate < 1%"
    assert parse_gate("Test: error_rate < 1%").label == "Test: error_rate < 1%"
    assert parse_gate("error_rate < 1%").label == "error_rate < 1%"


def test_config_entries_carry_selector_and_abort_settings() -> None:
    config = GateConfig("ttfi.p95 < 800ms", Env.TEST, "orders", True, 5.0)
    gate = gate_from_config(config)
    assert (gate.env, gate.flow, gate.abort_on_fail, gate.delay_abort_s) == (
        Env.TEST,
        "orders",
        True,
        5.0,
    )
    # A prefix that agrees with the table's keys is fine; one that contradicts them is not.
    assert gate_from_config(GateConfig("Test: ttfi.p95 < 800ms", Env.TEST)).env is Env.TEST
    with pytest.raises(GateError, match="contradicts"):
        gate_from_config(GateConfig("Production: ttfi.p95 < 800ms", Env.TEST))
    with pytest.raises(GateError, match="delay_abort_s"):
        gate_from_config(GateConfig("ttfi.p95 < 800ms", delay_abort_s=-1.0))


@pytest.mark.parametrize(
    ("text", "base", "threshold"),
    [
        ("ttfi.p95 <= baseline * 1.10", 800.0, 880.0),
        ("ttfi.p95 <= baseline*1.1", 800.0, 880.0),
        ("ttfi.p95 <= baseline + 50ms", 800.0, 850.0),
        ("ttfi.p95 <= baseline + 0.05s", 800.0, 850.0),
        ("streams_per_s >= baseline - 2", 10.0, 8.0),
        ("error_rate <= baseline + 1%", 0.02, 0.03),
        ("ttfi.p95 <= baseline", 800.0, 800.0),
    ],
)
def test_baseline_thresholds(text: str, base: float, threshold: float) -> None:
    gate = parse_gate(text)
    assert gate.uses_baseline
    assert gate.threshold.resolve(gate.metric.kind, None) is None
    resolved = gate.threshold.resolve(gate.metric.kind, base)
    assert resolved is not None
    assert math.isclose(resolved, threshold)


def test_significant_marks_a_regression_gate() -> None:
    gate = parse_gate("Production: ttfi.p95 <= baseline * 1.10 significant")
    assert gate.significant
    assert gate.expr == "ttfi.p95 <= baseline * 1.1 significant"
    assert parse_gate(gate.label) == gate


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ttfi.p96 < 800ms", "unknown statistic 'p96'"),
        ("latency.p95 < 800ms", "unknown metric 'latency'"),
        ("outcomes.exploded == 0", "unknown outcome 'exploded'"),
        ("error_rate.p95 < 1%", "takes no statistic"),
        ("ttfi.p95 => 800ms", "unknown operator '=>'"),
        ("ttfi.p95 = 800ms", "unknown operator '='"),
        ("ttfi.p95 800ms", "no comparison operator"),
        ("< 800ms", "no metric"),
        ("ttfi.p95 <", "no value"),
        ("ttfi.p95 < 800us", "unit 'us' does not fit ttfi.p95"),
        ("error_rate < 1ms", "unit 'ms' does not fit error_rate"),
        ("streams >= 5%", "unit '%' does not fit streams"),
        ("ttfi.p95 < fast", "cannot read the value 'fast'"),
        ("ttfi.p95 < -5ms", "cannot read the value"),
        ("ttfi.p95 < 1e999", "not a finite number"),
        ("ttfi.p95 < baseline * 1.1ms", "factor takes no unit"),
        ("ttfi.p95 < baseline / 2", "cannot read the value"),
        ("Prod: ttfi.p95 < 800ms", "unknown env"),
        ("Production/: ttfi.p95 < 800ms", "names no flow"),
        (": ttfi.p95 < 800ms", "empty selector"),
        ("ttfi-p95 < 800ms", "not a metric name"),
        ("ttfi.p95 < 800ms significant", "needs a baseline"),
        ("ttfi.p95 == baseline significant", "not == or !="),
        ("error_rate <= baseline significant", "needs per-stream values"),
        ("ttfi.count <= baseline significant", "needs per-stream values"),
    ],
)
def test_malformed_gates_say_what_is_wrong_and_what_is_valid(text: str, problem: str) -> None:
    with pytest.raises(GateError) as caught:
        parse_gate(text)
    message = str(caught.value)
    assert problem in message
    # Every error carries the whole grammar: metrics, statistics, operators and units.
    for valid in ("ttfi", "limit_used", "error_rate", "outcomes.", "streams_per_s", "p99.9"):
        assert valid in message
    for op in OPS:
        assert op in message
    assert "ms or s" in message
    assert "%" in message
    assert isinstance(caught.value, ConfigError)


def test_long_expressions_are_shortened_in_errors() -> None:
    with pytest.raises(GateError) as caught:
        parse_gate("x" * 500 + " < 1")
    assert "x" * 200 not in str(caught.value)


@pytest.mark.parametrize(
    ("op", "pairs_true", "pairs_false"),
    [
        (Op.LT, [(1, 2)], [(2, 2), (3, 2)]),
        (Op.LE, [(1, 2), (2, 2)], [(3, 2)]),
        (Op.GT, [(3, 2)], [(2, 2), (1, 2)]),
        (Op.GE, [(3, 2), (2, 2)], [(1, 2)]),
        (Op.EQ, [(2, 2)], [(1, 2)]),
        (Op.NE, [(1, 2)], [(2, 2)]),
    ],
)
def test_operators(
    op: Op, pairs_true: list[tuple[float, float]], pairs_false: list[tuple[float, float]]
) -> None:
    assert all(op.holds(a, b) for a, b in pairs_true)
    assert not any(op.holds(a, b) for a, b in pairs_false)


# --- property: any gate prints to a label that parses back to the same gate -------------------

_METRICS = (
    [MetricRef(n, s, Kind.COUNT if s == "count" else k) for n, (_, k) in BLOCK_METRICS.items()
     for s in STATS]
    + [MetricRef("outcomes", o, Kind.COUNT) for o in OUTCOME_NAMES]
    + [MetricRef(n, None, k) for n, k in SCALAR_METRICS.items()]
)  # fmt: skip
_FLOW_CHARS = string.ascii_letters + string.digits + "-_. "


@st.composite
def gates(draw: st.DrawFn) -> Gate:
    metric = draw(st.sampled_from(_METRICS))
    op = draw(st.sampled_from(list(Op)))
    amount = draw(st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False))
    unit = draw(st.sampled_from(list(metric.kind.units)))
    relation = draw(st.sampled_from([None, None, "", "*", "+", "-"]))
    if relation == "":
        threshold = Threshold(None, "", "")
    else:
        threshold = Threshold(amount, "" if relation == "*" else unit, relation)
    significant = (
        relation is not None
        and op.lower_is_better is not None
        and metric.name in SIGNIFICANCE_FIELDS
        and metric.stat != "count"
        and draw(st.booleans())
    )
    flow = draw(st.none() | st.text(_FLOW_CHARS, min_size=1, max_size=12))
    flow = flow.strip() if flow else None
    return Gate(
        metric=metric,
        op=op,
        threshold=threshold,
        env=draw(st.none() | st.sampled_from(list(Env))),
        flow=flow or None,
        significant=significant,
    )


@given(gates())
@settings(max_examples=300, deadline=None)
def test_label_round_trip(gate: Gate) -> None:
    assert parse_gate(gate.label) == gate
    assert parse_gate(gate.expr, env=gate.env, flow=gate.flow) == gate


@given(gates(), st.sampled_from(["", " ", "  ", "\t"]))
@settings(max_examples=100, deadline=None)
def test_spacing_does_not_matter(gate: Gate, space: str) -> None:
    text = gate.expr.replace(" ", space)
    if gate.significant:  # the keyword needs a separator from the value
        text = text.removesuffix("significant") + " significant"
    assert parse_gate(text, env=gate.env, flow=gate.flow) == gate


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_raises_gate_error(text: str) -> None:
    try:
        gate = parse_gate(text)
    except GateError:
        return
    assert parse_gate(gate.label) == gate


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("itl < 5ms", "itl.p95 < 5ms"),  # a time metric alone means its p95
        ("ttfi_p95_ms <= 800", "ttfi.p95 <= 800ms"),  # flat, the unit in the name
        ("duration_p99_s < 120", "duration.p99 < 120s"),
        ("limit_used_p99 < 0.8", "limit_used.p99 < 0.8"),
        ("ttfi_p99_9_ms < 2000", "ttfi.p99.9 < 2000ms"),
        ("outcomes.stalled == 0", "outcomes.stalled == 0"),
    ],
)
def test_gates_and_slos_read_one_language(text: str, canonical: str) -> None:
    from harness.capacity.slo import parse_objective

    gate = parse_gate(text)
    assert gate.expr == canonical
    objective = parse_objective(text)
    assert objective.threshold == gate.threshold.resolve(gate.metric.kind)
    assert objective.op is gate.op
    assert parse_objective(f"Production: {text}").env == "Production"
    assert parse_gate(f"Production: {text}").env is Env.PRODUCTION
