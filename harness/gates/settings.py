"""A run's gates, checked before it starts: scenario and command-line gates, baseline, limits.

Shared by the Locust glue (``harness.locust_glue.gating``) and ``flowload gate`` (offline).
Everything a user can get wrong here raises a ConfigError at startup, never at the end of a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.config import Scenario
from harness.criteria.grammar import Gate, GateError, gate_from_config, parse_gate
from harness.errors import ConfigError
from harness.gates.evaluate import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_STREAMS,
    FAILED,
    Verdict,
    evaluate_gates,
)
from harness.results import RecordsError, SummaryError, read_records, read_summary
from harness.results.paths import STREAMS_FILE, SUMMARY_FILE

__all__ = [
    "AbortRecord",
    "GateSettings",
    "build_settings",
    "judge_run",
    "parse_alpha",
    "parse_min_streams",
    "summary_path",
]


@dataclass(frozen=True, slots=True)
class AbortRecord:
    """The gate that stopped a test, its live verdict and when (seconds into the test)."""

    gate: Gate
    verdict: Verdict
    at_s: float


@dataclass
class GateSettings:
    """Everything gate evaluation needs; ``stopped`` is set when an abort_on_fail gate fires."""

    gates: tuple[Gate, ...] = ()
    baseline: dict[str, Any] | None = None
    baseline_records: list[dict[str, Any]] | None = None
    min_streams: int = DEFAULT_MIN_STREAMS
    alpha: float = DEFAULT_ALPHA
    allow_partial: bool = False  # judge an interrupted run instead of calling it inconclusive
    stopped: AbortRecord | None = None
    abort_checks: int = 0  # abort_on_fail evaluations made during the current test

    @property
    def needs_records(self) -> bool:
        """True when a gate tests significance (both runs' streams.jsonl are read)."""
        return any(g.significant for g in self.gates)


def parse_min_streams(value: Any) -> int:
    """``--gate-min-streams``: a whole number >= 0 (None or "": the default)."""
    if value is None or value == "":
        return DEFAULT_MIN_STREAMS
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise ConfigError(f"--gate-min-streams must be a whole number >= 0, got {value!r}")
    return number


def parse_alpha(value: Any) -> float:
    """``--gate-alpha``: a significance level strictly between 0 and 1."""
    if value is None or value == "":
        return DEFAULT_ALPHA
    try:
        alpha = float(value)
    except (TypeError, ValueError):
        alpha = -1.0
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--gate-alpha must be a number between 0 and 1, got {value!r}")
    return alpha


def summary_path(raw: str | Path) -> Path:
    """A summary.json path from itself or its report directory."""
    path = Path(raw)
    return path / SUMMARY_FILE if path.is_dir() else path


def _check_selector(gate: Gate, scenario: Scenario) -> None:
    """A --gate selector must name an env and flow of this run (the loader checks [[gates]])."""
    if gate.env is not None and all(e.env is not gate.env for e in scenario.envs):
        raise GateError(
            f"--gate {gate.label!r}: env {gate.env} is not in the run; "
            f"configured envs: {scenario.env_names()}"
        )
    names = [f.name for f in scenario.flows]
    if gate.flow is not None and names and gate.flow not in names:
        raise GateError(
            f"--gate {gate.label!r}: no flow named {gate.flow!r}; configured flows: "
            f"{', '.join(names)}"
        )


def _parse_all(cli: Sequence[str], scenario: Scenario) -> tuple[Gate, ...]:
    gates: list[Gate] = []
    where = str(scenario.source or "the scenario")
    for number, config in enumerate(scenario.gates, start=1):
        try:
            gates.append(gate_from_config(config))
        except GateError as exc:
            raise GateError(f"{where}: [[gates]] entry {number}: {exc}") from None
    for text in cli:
        gate = parse_gate(text)
        _check_selector(gate, scenario)
        gates.append(gate)
    return _distinct(gates)


def _meaning(gate: Gate) -> tuple[object, ...]:
    """What a gate tests, whatever its spelling (``< 0.8s`` and ``< 800ms`` are one threshold)."""
    threshold = gate.threshold
    factor = 1.0 if threshold.baseline == "*" else gate.metric.kind.units.get(threshold.unit, 1.0)
    value = float(f"{float(threshold.amount or 0.0) * factor:.12g}")
    return (gate.selector, gate.metric.text, gate.op, gate.significant, threshold.baseline, value)


def _distinct(gates: Sequence[Gate]) -> tuple[Gate, ...]:
    """Each gate once: the same gate in the scenario and on the command line is judged once.

    The first copy keeps its place and spelling, and aborts when any copy asks to.
    """
    kept: dict[tuple[object, ...], Gate] = {}
    for gate in gates:
        key = _meaning(gate)
        first = kept.setdefault(key, gate)
        if gate.abort_on_fail and not first.abort_on_fail:
            kept[key] = replace(first, abort_on_fail=True, delay_abort_s=gate.delay_abort_s)
    return tuple(kept.values())


def _load_baseline(settings: GateSettings, raw: str | Path) -> None:
    path = summary_path(raw)
    try:
        settings.baseline = read_summary(path)
        if settings.needs_records:
            records = path.with_name(STREAMS_FILE)
            if not records.is_file():
                raise GateError(
                    f"'significant' gates compare per-stream values, but {records} does not "
                    "exist: keep streams.jsonl next to the baseline's summary.json"
                )
            settings.baseline_records = read_records(records).records
    except (SummaryError, RecordsError) as exc:
        raise GateError(
            f"--baseline: {exc}; give the summary.json of a finished run or its report directory"
        ) from None


def build_settings(
    scenario: Scenario,
    cli_gates: Sequence[str] = (),
    *,
    baseline: str | Path | None = None,
    min_streams: int = DEFAULT_MIN_STREAMS,
    alpha: float = DEFAULT_ALPHA,
    allow_partial: bool = False,
) -> GateSettings:
    """Parse the scenario's and the command line's gates and load the baseline (ConfigError)."""
    settings = GateSettings(
        gates=_parse_all(cli_gates, scenario),
        min_streams=min_streams,
        alpha=alpha,
        allow_partial=allow_partial,
    )
    if baseline:
        _load_baseline(settings, baseline)
    else:
        needing = [g.label for g in settings.gates if g.uses_baseline]
        if needing:
            raise GateError(
                f"gate {needing[0]!r} compares with a baseline: pass --baseline "
                "path/to/summary.json (or the report directory of the baseline run)"
            )
    return settings


def _mark_stopper(verdicts: list[Verdict], settings: GateSettings) -> list[Verdict]:
    """The gate that stopped the run failed, whatever the shortened run's data says now."""
    stopped = settings.stopped
    if stopped is None:
        return verdicts
    marked = []
    for gate, verdict in zip(settings.gates, verdicts, strict=True):
        if gate is not stopped.gate:
            marked.append(verdict)
            continue
        message = (
            f"failed {stopped.at_s:.1f} s into the run and stopped it: {stopped.verdict.message}"
        )
        if verdict.message != stopped.verdict.message:
            message += f"; at the end: {verdict.message}"
        marked.append(replace(verdict, status=FAILED, message=message, stopped_run=True))
    return marked


def judge_run(
    summary: dict[str, Any], settings: GateSettings, report_dir: Path | None
) -> list[Verdict]:
    """Verdicts for a finished run (reads its streams.jsonl for ``significant`` gates)."""
    records = None
    if settings.needs_records and report_dir is not None:
        path = report_dir / STREAMS_FILE
        records = read_records(path).records if path.is_file() else None
    verdicts = evaluate_gates(
        summary,
        settings.gates,
        baseline=settings.baseline,
        min_streams=settings.min_streams,
        records=records,
        baseline_records=settings.baseline_records,
        alpha=settings.alpha,
        allow_partial=settings.allow_partial,
    )
    return _mark_stopper(verdicts, settings)
