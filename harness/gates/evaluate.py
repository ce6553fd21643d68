"""Gate evaluation: a pure function from a summary (and optionally a baseline) to verdicts.

Three outcomes per gate: ``passed``, ``failed`` and ``inconclusive`` (the data cannot decide:
no streams for the selector, a baseline without the metric, or a run that cannot be trusted).
Only the edge (the Locust glue) turns verdicts into an exit code, via :func:`exit_code_for`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.cli.exitcodes import EXIT_GATES_FAILED, EXIT_INCONCLUSIVE, EXIT_OK
from harness.criteria.grammar import Gate
from harness.criteria.vocabulary import SIGNIFICANCE_FIELDS, format_value
from harness.gates.regression import regression_test

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_STREAMS",
    "FAILED",
    "INCONCLUSIVE",
    "PASSED",
    "Verdict",
    "evaluate_gates",
    "exit_code_for",
    "run_problem",
]

PASSED, FAILED, INCONCLUSIVE = "passed", "failed", "inconclusive"
DEFAULT_MIN_STREAMS = 10  # fewer streams than this in a selected env: percentiles mean little
DEFAULT_ALPHA = 0.05

Block = Mapping[str, Any]
Records = Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision on one gate. ``observed``/``threshold`` are in the summary's ``unit``."""

    expr: str
    env: str | None
    flow: str | None
    observed: float | None
    threshold: float | None
    status: str
    message: str
    unit: str
    label: str
    stopped_run: bool = False  # this gate failed during the run and stopped it (abort_on_fail)

    @property
    def passed(self) -> bool:
        """True only for ``passed`` (an inconclusive gate has not passed)."""
        return self.status == PASSED

    def to_json(self) -> dict[str, Any]:
        """The ``summary.json`` ``gates`` entry: the design's keys plus status and message."""
        return {
            "expr": self.expr,
            "env": self.env,
            "flow": self.flow,
            "observed": self.observed,
            "threshold": self.threshold,
            "passed": self.passed,
            "status": self.status,
            "message": self.message,
            "unit": self.unit,
            "label": self.label,
            "stopped_run": self.stopped_run,
        }


@dataclass(frozen=True, slots=True)
class _Judgement:
    status: str
    observed: float | None
    threshold: float | None
    message: str


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _lookup(block: Block, path: tuple[str, ...]) -> float | None:
    node: Any = block
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return _number(node)


def _targets(summary: Block, gate: Gate) -> list[tuple[str | None, Block]]:
    """The stats blocks a gate looks at, with their env (None: the whole run)."""
    if gate.flow is not None:
        return [
            (str(entry.get("env")), entry)
            for entry in summary.get("by_env_flow") or []
            if entry.get("flow") == gate.flow and (gate.env is None or entry.get("env") == gate.env)
        ]
    if gate.env is not None:
        block = (summary.get("by_env") or {}).get(gate.env.value)
        return [] if block is None else [(gate.env.value, block)]
    overall = summary.get("overall")
    return [] if overall is None else [(None, overall)]


def _selected_counts(summary: Block, gates: Sequence[Gate]) -> dict[str, int]:
    """Streams per selected env ("the run" for gates on the whole run)."""
    by_env = summary.get("by_env") or {}
    envs: set[str] = set()
    counts: dict[str, int] = {}
    for gate in gates:
        if gate.env is not None:
            envs.add(gate.env.value)
        elif gate.flow is not None:
            envs.update(str(env) for env, _ in _targets(summary, gate))
        else:
            counts["the run"] = int((summary.get("overall") or {}).get("streams") or 0)
    for env in envs:
        counts[env] = int((by_env.get(env) or {}).get("streams") or 0)
    return counts


def _trust_causes(run: Block) -> str:
    """The first cause the run's health gives, or where to look for it."""
    generator = run.get("generator") or {}
    healths = [generator.get("local")] if generator.get("local") else []
    healths += list((generator.get("workers") or {}).values())
    for health in healths:
        causes = (health or {}).get("causes") or []
        if causes:
            return str(causes[0])
    return "see run.generator in summary.json"


def run_problem(
    summary: Block, gates: Sequence[Gate], min_streams: int, *, allow_partial: bool = False
) -> str | None:
    """Why no gate of this run can be trusted (None: the run is fit to judge).

    The run was interrupted before its planned end (unless ``allow_partial``), its item times
    cannot be trusted to ~2 ms (``run.generator_saturated``), a worker was lost, or an env
    selected by a gate (the whole run, for a gate without env and flow) recorded fewer than
    ``min_streams`` streams.
    """
    run = summary.get("run") or {}
    if run.get("interrupted") and not allow_partial:
        return (
            "the run was interrupted (Ctrl-C or SIGTERM) before its planned end; "
            "--gate-allow-partial judges what it recorded"
        )
    if run.get("generator_saturated"):
        return "the item times cannot be trusted to ~2 ms (" + _trust_causes(run) + ")"
    if run.get("degraded") or run.get("lost_workers"):
        lost = ", ".join(str(w) for w in run.get("lost_workers") or []) or "some"
        return f"worker(s) {lost} were lost before their final report"
    counts = _selected_counts(summary, gates)
    short = [f"{name} {n}" for name, n in sorted(counts.items()) if n < min_streams]
    if short:
        return f"too few streams ({', '.join(short)}; at least {min_streams} needed)"
    return None


def _threshold_text(gate: Gate, threshold: float, base: float | None) -> str:
    kind, unit = gate.metric.kind, gate.threshold.unit
    text = f"{gate.op.value} {format_value(threshold, kind, unit)}"
    if base is None:
        return text
    relation = gate.threshold.text.removeprefix("baseline").strip()
    shown_base = format_value(base, kind, unit)
    return f"{text} (baseline {shown_base}{' ' + relation if relation else ''})"


def _samples(records: Records | None, env: str | None, gate: Gate, field: str) -> list[float]:
    values: list[float] = []
    for record in records or ():
        if env is not None and record.get("env") != env:
            continue
        if gate.flow is not None and record.get("flow") != gate.flow:
            continue
        value = _number(record.get(field))
        if value is not None:
            values.append(value)
    return values


def _judge(
    gate: Gate,
    env: str | None,
    block: Block,
    *,
    base_block: Block | None,
    records: tuple[Records | None, Records | None],
    alpha: float,
) -> _Judgement:
    """One gate on one stats block (and the same block of the baseline run)."""
    metric = gate.metric
    observed = _lookup(block, metric.path)
    if observed is None:
        return _Judgement(INCONCLUSIVE, None, None, f"{metric.text}: no samples in this run")
    base: float | None = None
    if gate.uses_baseline:
        base = None if base_block is None else _lookup(base_block, metric.path)
        if base is None:
            return _Judgement(
                INCONCLUSIVE, observed, None, f"{metric.text}: the baseline run has no value"
            )
    threshold = gate.threshold.resolve(metric.kind, base)
    if threshold is None:  # only when a baseline value is missing, handled above
        return _Judgement(INCONCLUSIVE, observed, None, f"{metric.text}: no threshold")
    shown = format_value(observed, metric.kind, gate.threshold.unit)
    expected = _threshold_text(gate, threshold, base)
    if gate.op.holds(observed, threshold):
        return _Judgement(PASSED, observed, threshold, f"{metric.text} = {shown} ({expected})")
    message = f"{metric.text} = {shown}, expected {expected}"
    if not gate.significant:
        return _Judgement(FAILED, observed, threshold, message)
    new_records, base_records = records
    test = regression_test(
        gate,
        _samples(base_records, env, gate, _field(gate)),
        _samples(new_records, env, gate, _field(gate)),
        alpha=alpha,
    )
    status = {True: FAILED, False: PASSED, None: INCONCLUSIVE}[test.regressed]
    return _Judgement(status, observed, threshold, f"{message}; {test.detail}")


def _field(gate: Gate) -> str:
    return SIGNIFICANCE_FIELDS[gate.metric.name]


def _worst(
    gate: Gate, judged: list[tuple[str | None, _Judgement]]
) -> tuple[str | None, _Judgement]:
    """The env whose result decides a gate evaluated in several envs (a flow in every env)."""
    for status in (FAILED, INCONCLUSIVE):
        for env, judgement in judged:
            if judgement.status == status:
                return env, judgement
    lower = gate.op.lower_is_better
    if lower is None:
        return judged[0]
    sign = 1.0 if lower else -1.0
    return max(judged, key=lambda item: sign * float(item[1].observed or 0.0))


def _verdict(gate: Gate, status: str, judgement: _Judgement, env: str | None) -> Verdict:
    return Verdict(
        expr=gate.expr,
        env=gate.env.value if gate.env is not None else None,
        flow=gate.flow,
        observed=judgement.observed,
        threshold=judgement.threshold,
        status=status,
        message=judgement.message if env is None or gate.env else f"{env}: {judgement.message}",
        unit=gate.metric.kind.value,
        label=gate.label,
    )


def _evaluate_one(
    summary: Block,
    gate: Gate,
    baseline: Block | None,
    records: tuple[Records | None, Records | None],
    alpha: float,
) -> Verdict:
    targets = _targets(summary, gate)
    if not targets:
        where = gate.selector or "the run"
        empty = _Judgement(INCONCLUSIVE, None, None, f"no streams for {where} in this run")
        return _verdict(gate, INCONCLUSIVE, empty, None)
    base_blocks = dict(_targets(baseline, gate)) if baseline is not None else {}
    judged = [
        (
            env,
            _judge(gate, env, block, base_block=base_blocks.get(env), records=records, alpha=alpha),
        )
        for env, block in targets
    ]
    env, judgement = _worst(gate, judged)
    return _verdict(gate, judgement.status, judgement, env if len(judged) > 1 else None)


def evaluate_gates(
    summary: Block,
    gates: Sequence[Gate],
    *,
    baseline: Block | None = None,
    min_streams: int = DEFAULT_MIN_STREAMS,
    records: Records | None = None,
    baseline_records: Records | None = None,
    alpha: float = DEFAULT_ALPHA,
    allow_partial: bool = False,
) -> list[Verdict]:
    """Judge every gate on ``summary`` (a ``summary.json`` document); one verdict per gate.

    ``baseline`` is the baseline run's summary (for ``baseline`` thresholds); ``records`` and
    ``baseline_records`` are both runs' ``streams.jsonl`` records (for ``significant`` gates).
    A run that cannot be trusted (see :func:`run_problem`) makes every gate inconclusive.
    """
    problem = run_problem(summary, gates, min_streams, allow_partial=allow_partial)
    verdicts = []
    for gate in gates:
        verdict = _evaluate_one(summary, gate, baseline, (records, baseline_records), alpha)
        if problem is not None:
            # Keep the observed value (it helps to see it) but never let it pass or fail.
            message = (
                f"run not trusted: {problem}; on its data: {verdict.status}, {verdict.message}"
            )
            verdict = replace(verdict, status=INCONCLUSIVE, message=message)
        verdicts.append(verdict)
    return verdicts


def exit_code_for(verdicts: Sequence[Verdict]) -> int:
    """4 when a gate failed, else 5 when one is inconclusive, else 0 (harness.cli.exitcodes)."""
    if any(v.status == FAILED for v in verdicts):
        return EXIT_GATES_FAILED
    if any(v.status == INCONCLUSIVE for v in verdicts):
        return EXIT_INCONCLUSIVE
    return EXIT_OK
