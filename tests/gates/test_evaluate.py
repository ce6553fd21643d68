"""Tests of harness.gates.evaluate: verdicts on real summaries, validity, baselines, exit codes."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.cli.exitcodes import EXIT_GATES_FAILED, EXIT_INCONCLUSIVE, EXIT_OK
from harness.gates import (
    FAILED,
    INCONCLUSIVE,
    PASSED,
    Op,
    Verdict,
    evaluate_gates,
    exit_code_for,
    parse_gate,
    run_problem,
)
from harness.results.stream import Outcome, StreamResult
from harness.stats import Recorder
from tests.builders import stream_result

ELAPSED_S = 10.0


def stream(
    env: str, flow: str, ttfi_s: float, outcome: Outcome = Outcome.OK, duration_s: float = 2.0
) -> StreamResult:
    ok = outcome is Outcome.OK
    gaps = (0.02, 0.04) if ok else ()
    return stream_result(env, flow, outcome, ttfi_s=ttfi_s, duration_s=duration_s, gaps_s=gaps)


def summary_of(results: list[StreamResult], **run: Any) -> dict[str, Any]:
    """A summary.json-shaped document built by the real Recorder (the oracle for observed)."""
    recorder = Recorder()
    for result in results:
        recorder.record(result)
    return {
        "schema": "flowload.summary/1",
        "run": {"duration_s": ELAPSED_S, "generator_saturated": False, **run},
        "overall": recorder.overall(ELAPSED_S),
        "by_env": recorder.by_env(ELAPSED_S),
        "by_env_flow": recorder.by_env_flow(ELAPSED_S),
        "gates": [],
    }


def standard_run(**run: Any) -> dict[str, Any]:
    """Production fast (100..290 ms TTFI), Test slow (1000..1190 ms), one Test error."""
    results = [stream("Production", "orders", 0.1 + i * 0.01) for i in range(20)]
    results += [stream("Production", "chat", 0.2) for _ in range(10)]
    results += [stream("Test", "orders", 1.0 + i * 0.01) for i in range(20)]
    results.append(stream("Test", "orders", 0.0, Outcome.HTTP_ERROR, duration_s=0.1))
    return summary_of(results, **run)


def judge(summary: dict[str, Any], text: str, **kw: Any) -> Verdict:
    verdicts = evaluate_gates(summary, [parse_gate(text)], **kw)
    assert len(verdicts) == 1
    return verdicts[0]


def test_observed_value_comes_from_the_selected_block() -> None:
    summary = standard_run()
    overall = judge(summary, "ttfi.p95 < 800ms")
    prod = judge(summary, "Production: ttfi.p95 < 800ms")
    prod_orders = judge(summary, "Production/orders: ttfi.max < 800ms")
    assert overall.observed == summary["overall"]["ttfi_ms"]["p95"]
    assert prod.observed == summary["by_env"]["Production"]["ttfi_ms"]["p95"]
    orders = next(
        b for b in summary["by_env_flow"] if (b["env"], b["flow"]) == ("Production", "orders")
    )
    assert prod_orders.observed == orders["ttfi_ms"]["max"]
    assert (overall.status, prod.status, prod_orders.status) == (FAILED, PASSED, PASSED)
    assert prod.env == "Production"
    assert prod_orders.flow == "orders"


def test_failure_message_has_observed_and_threshold() -> None:
    verdict = judge(standard_run(), "Test: ttfi.p95 < 0.8s")
    assert verdict.status == FAILED
    assert not verdict.passed
    assert verdict.threshold == 800.0
    assert verdict.unit == "ms"
    assert "ttfi.p95 = 1.1" in verdict.message  # shown in seconds, as the gate was written
    assert "expected < 0.8 s" in verdict.message


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("error_rate < 1%", FAILED),  # 1 error in 51 streams ~ 2 %
        ("error_rate < 5%", PASSED),
        ("Production: error_rate == 0", PASSED),
        ("outcomes.http_error == 0", FAILED),
        ("outcomes.http_error <= 1", PASSED),
        ("streams >= 51", PASSED),
        ("streams > 51", FAILED),
        ("streams_per_s >= 5", PASSED),  # 51 streams in 10 s
        ("items_per_s > 100", FAILED),  # 150 items in 10 s
        ("limit_used.max < 1%", PASSED),  # 2 s of a 300 s limit
        ("duration.max <= 2s", PASSED),
        ("itl.p50 < 10ms", FAILED),
        ("ttfb.p50 < 300ms", PASSED),
        ("ttfi.count >= 50", PASSED),
    ],
)
def test_every_kind_of_metric(text: str, status: str) -> None:
    assert judge(standard_run(), text).status == status


def test_a_flow_in_every_env_is_judged_by_its_worst_env() -> None:
    summary = standard_run()
    verdict = judge(summary, "*/orders: ttfi.p95 < 800ms")
    assert verdict.status == FAILED
    assert verdict.message.startswith("Test: ")  # names the env that failed
    test_orders = next(
        b for b in summary["by_env_flow"] if (b["env"], b["flow"]) == ("Test", "orders")
    )
    assert verdict.observed == test_orders["ttfi_ms"]["p95"]
    passing = judge(summary, "*/orders: ttfi.p95 < 5s")
    assert passing.status == PASSED
    assert passing.observed == test_orders["ttfi_ms"]["p95"]  # the worst of the two


@pytest.mark.parametrize(
    "text",
    [
        "Development: ttfi.p95 < 800ms",  # env not in the run
        "Production/nope: ttfi.p95 < 800ms",  # flow not in the run
        "*/nope: ttfi.p95 < 800ms",
    ],
)
def test_selector_without_data_is_inconclusive(text: str) -> None:
    verdict = judge(standard_run(), text, min_streams=0)
    assert verdict.status == INCONCLUSIVE
    assert verdict.observed is None
    assert "no streams" in verdict.message


def test_metric_without_samples_is_inconclusive() -> None:
    errors = [stream("Production", "orders", 0.0, Outcome.HTTP_ERROR) for _ in range(20)]
    verdict = judge(summary_of(errors), "ttfi.p95 < 800ms")
    assert verdict.status == INCONCLUSIVE
    assert "no samples" in verdict.message


def test_a_saturated_generator_makes_every_gate_inconclusive() -> None:
    summary = standard_run(generator_saturated=True)
    gates = [parse_gate("Production: ttfi.p95 < 800ms"), parse_gate("error_rate < 1%")]
    verdicts = evaluate_gates(summary, gates)
    assert [v.status for v in verdicts] == [INCONCLUSIVE, INCONCLUSIVE]
    assert all("item times cannot be trusted to ~2 ms" in v.message for v in verdicts)
    # The value is kept for the reader, with what it would have said.
    assert verdicts[0].observed == summary["by_env"]["Production"]["ttfi_ms"]["p95"]
    assert "on its data: passed" in verdicts[0].message
    assert "on its data: failed" in verdicts[1].message
    assert exit_code_for(verdicts) == EXIT_INCONCLUSIVE


def test_the_inconclusive_message_names_the_runs_first_cause() -> None:
    summary = standard_run(generator_saturated=True)
    cause = "3.2 % of items may be off by more than 1 ms (> 1 %): reads held bytes of several"
    summary["run"]["generator"] = {"local": {"causes": [cause, "CPU p90 97 %"]}}
    verdicts = evaluate_gates(summary, [parse_gate("error_rate < 1%")])
    assert cause in verdicts[0].message


def test_lost_workers_make_every_gate_inconclusive() -> None:
    summary = standard_run(degraded=True, lost_workers=["w2"])
    assert judge(summary, "error_rate < 5%").status == INCONCLUSIVE
    assert run_problem(summary, [], 1) == "worker(s) w2 were lost before their final report"


def test_an_interrupted_run_is_inconclusive_unless_partial_runs_are_allowed() -> None:
    summary = standard_run(interrupted=True)
    gates = [parse_gate("Production: ttfi.p95 < 800ms"), parse_gate("error_rate < 1%")]
    verdicts = evaluate_gates(summary, gates)
    assert [v.status for v in verdicts] == [INCONCLUSIVE, INCONCLUSIVE]
    assert all("interrupted (Ctrl-C or SIGTERM)" in v.message for v in verdicts)
    assert "--gate-allow-partial" in verdicts[0].message
    assert exit_code_for(verdicts) == EXIT_INCONCLUSIVE
    allowed = evaluate_gates(summary, gates, allow_partial=True)
    assert [v.status for v in allowed] == [PASSED, FAILED]
    assert run_problem(standard_run(interrupted=False), gates, 1) is None


def test_too_few_streams_in_a_selected_env() -> None:
    summary = standard_run()  # Production 30 streams, Test 21, 51 in all
    prod = parse_gate("Production: ttfi.p95 < 800ms")
    assert evaluate_gates(summary, [prod], min_streams=30)[0].status == PASSED
    low = evaluate_gates(summary, [prod], min_streams=31)[0]
    assert low.status == INCONCLUSIVE
    assert "too few streams (Production 30; at least 31 needed)" in low.message
    # One short env makes every gate inconclusive, not just its own.
    test = parse_gate("Test: error_rate < 5%")
    both = evaluate_gates(summary, [prod, test], min_streams=25)
    assert [v.status for v in both] == [INCONCLUSIVE, INCONCLUSIVE]
    assert "Test 21" in both[0].message
    # An env selected by no gate does not count; a whole-run gate counts the whole run.
    whole = parse_gate("error_rate < 5%")
    assert [v.status for v in evaluate_gates(summary, [prod, whole], min_streams=25)] == [
        PASSED,
        PASSED,
    ]
    short_run = evaluate_gates(summary, [whole], min_streams=52)[0]
    assert short_run.status == INCONCLUSIVE
    assert "the run 51" in short_run.message
    # A flow in every env counts each env that has it.
    every = evaluate_gates(summary, [parse_gate("*/orders: error_rate < 5%")], min_streams=25)
    assert "Test 21" in every[0].message
    # 0 turns the check off.
    assert evaluate_gates(summary_of([]), [prod], min_streams=0)[0].status == INCONCLUSIVE
    empty = evaluate_gates(summary_of([]), [parse_gate("streams >= 0")], min_streams=0)
    assert empty[0].status == PASSED


def test_baseline_thresholds_use_the_same_block_of_the_baseline() -> None:
    base = standard_run()
    slower = summary_of(
        [stream("Production", "orders", 0.15 + i * 0.01) for i in range(30)]
        + [stream("Test", "orders", 1.0) for _ in range(30)]
    )
    base_p95 = base["by_env"]["Production"]["ttfi_ms"]["p95"]
    verdict = judge(slower, "Production: ttfi.p95 <= baseline * 1.10", baseline=base)
    assert verdict.threshold == pytest.approx(base_p95 * 1.10)
    assert verdict.status == FAILED
    assert "baseline" in verdict.message
    assert judge(slower, "Production: ttfi.p95 <= baseline + 200ms", baseline=base).passed
    # Without a baseline value for the selector: inconclusive, never passed.
    missing = judge(slower, "Production: ttfi.p95 <= baseline * 1.10", baseline=summary_of([]))
    assert missing.status == INCONCLUSIVE
    assert judge(slower, "ttfi.p95 <= baseline", baseline=None).status == INCONCLUSIVE


def _records(env: str, values: list[float]) -> list[dict[str, Any]]:
    return [{"env": env, "flow": "orders", "ttfi_ms": v, "outcome": "ok"} for v in values]


def _summary_from_ttfis(values_ms: list[float]) -> dict[str, Any]:
    return summary_of([stream("Production", "orders", v / 1000) for v in values_ms])


def test_significant_gate_fails_on_a_real_regression() -> None:
    rng = random.Random(7)
    base_ms = [rng.lognormvariate(5.5, 0.3) for _ in range(300)]
    new_ms = [v * 1.5 for v in (rng.lognormvariate(5.5, 0.3) for _ in range(300))]
    verdict = judge(
        _summary_from_ttfis(new_ms),
        "Production: ttfi.p95 <= baseline * 1.10 significant",
        baseline=_summary_from_ttfis(base_ms),
        records=_records("Production", new_ms),
        baseline_records=_records("Production", base_ms),
    )
    assert verdict.status == FAILED
    assert "significant" in verdict.message
    assert "CI" in verdict.message


def test_significant_gate_passes_a_breach_that_is_noise() -> None:
    rng = random.Random(11)
    base_ms = [rng.lognormvariate(5.5, 0.6) for _ in range(40)]
    new_ms = [rng.lognormvariate(5.5, 0.6) for _ in range(40)]
    summary, baseline = _summary_from_ttfis(new_ms), _summary_from_ttfis(base_ms)
    text = "Production: ttfi.p95 <= baseline * 0.9 significant"  # breached by construction
    plain = judge(summary, text.removesuffix(" significant"), baseline=baseline)
    assert plain.status == FAILED
    verdict = judge(
        summary,
        text,
        baseline=baseline,
        records=_records("Production", new_ms),
        baseline_records=_records("Production", base_ms),
    )
    assert verdict.status == PASSED
    assert "not a significant regression" in verdict.message


def test_significant_gate_without_records_is_inconclusive() -> None:
    rng = random.Random(3)
    base_ms = [rng.uniform(100, 200) for _ in range(50)]
    new_ms = [v * 2 for v in base_ms]
    verdict = judge(
        _summary_from_ttfis(new_ms),
        "Production: ttfi.mean <= baseline significant",
        baseline=_summary_from_ttfis(base_ms),
    )
    assert verdict.status == INCONCLUSIVE
    assert "cannot be tested" in verdict.message


def test_exit_codes() -> None:
    def verdict(status: str) -> Verdict:
        return Verdict("e", None, None, 1.0, 2.0, status, "m", "ms", "e")

    assert exit_code_for([]) == EXIT_OK
    assert exit_code_for([verdict(PASSED)]) == EXIT_OK
    assert exit_code_for([verdict(PASSED), verdict(INCONCLUSIVE)]) == EXIT_INCONCLUSIVE
    assert exit_code_for([verdict(INCONCLUSIVE), verdict(FAILED)]) == EXIT_GATES_FAILED


def test_verdict_json_has_the_design_keys() -> None:
    data = judge(standard_run(), "Production/orders: ttfi.p95 < 800ms").to_json()
    assert {"expr", "env", "flow", "observed", "passed"} <= set(data)
    assert data["expr"] == "ttfi.p95 < 800ms"
    assert (data["env"], data["flow"], data["passed"], data["status"]) == (
        "Production",
        "orders",
        True,
        PASSED,
    )
    assert data["threshold"] == 800.0


def test_evaluation_does_not_change_its_inputs() -> None:
    summary = standard_run()
    before = copy.deepcopy(summary)
    evaluate_gates(summary, [parse_gate("ttfi.p95 < 800ms")], baseline=summary)
    assert summary == before


_NEGATION = {Op.LT: Op.GE, Op.LE: Op.GT, Op.GT: Op.LE, Op.GE: Op.LT, Op.EQ: Op.NE, Op.NE: Op.EQ}


@given(
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.sampled_from(list(Op)),
)
@settings(max_examples=200, deadline=None)
def test_a_gate_and_its_negation_never_agree(observed: float, threshold: float, op: Op) -> None:
    summary: dict[str, Any] = {
        "run": {},
        "overall": {"streams": 100, "ttfi_ms": {"p95": observed}},
        "by_env": {"Production": {"streams": 100}},
        "by_env_flow": [],
    }
    value = repr(threshold)
    gate = parse_gate(f"ttfi.p95 {op.value} {value}")
    negated = parse_gate(f"ttfi.p95 {_NEGATION[op].value} {value}")
    first, second = evaluate_gates(summary, [gate, negated])
    assert {first.status, second.status} == {PASSED, FAILED}
    assert first.passed == op.holds(observed, threshold)
