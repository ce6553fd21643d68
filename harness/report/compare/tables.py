"""The comparison's tables as rows of text, shared by the HTML and Markdown renderers."""

from __future__ import annotations

from harness.report.compare.analysis import MIN_TAIL, RunComparison, ScopeChange
from harness.report.render import fmt
from harness.report.render.table import Table
from harness.results import RunData
from harness.stats.significance import PercentileChange

SIGNIFICANT = "*"  # marks a reported percentile change (significant and large enough)
SMALL_MARK = "°"  # marks a significant change below the minimum (not reported)


def _ms_value(value: float, metric: str) -> str:
    return fmt.ms(value) if metric.endswith("_ms") else f"{value:.3g}"


def percentile_cell(
    change: PercentileChange, metric: str, *, judged: bool, verdict: bool | None = False
) -> str:
    """``477 ms → 620 ms (+30.0%*)``; ``(n small)`` when the tail is too thin to judge.

    ``verdict``: True marks a reported change (``*``), None a significant one below the minimum
    change (``°``), False neither.
    """
    mark = SIGNIFICANT if verdict else (SMALL_MARK if verdict is None else "")
    tail = f"{fmt.signed_pct(change.relative)}{mark}" if judged else "n small"
    return f"{_ms_value(change.base, metric)} → {_ms_value(change.new, metric)} ({tail})"


def _streams_cell(scope: ScopeChange) -> str:
    return f"{scope.base_streams} → {scope.new_streams}"


def metric_table(result: RunComparison, metric: str) -> Table:
    """One metric across all scopes: percentiles base → new, the U test and a verdict."""
    header = ["env", "flow", "streams", "p50", "p95", "p99", "U test p (corrected)", "P(new>base)",
              "verdict"]  # fmt: skip
    rows = []
    for scope in result.scopes:
        change = next(m for m in scope.metrics if m.metric == metric)
        cells = [
            percentile_cell(p, metric, judged=ok, verdict=v)
            for p, ok, v in zip(
                change.percentiles, change.judged, change.percentile_verdicts(), strict=True
            )
        ]
        cells += ["-"] * (3 - len(cells))
        test = change.test
        rows.append([
            scope.env,
            scope.flow,
            _streams_cell(scope),
            *cells,
            "-" if test is None else f"{change.test_p:.3g}",
            "-" if test is None else f"{test.superiority:.2f}",
            change.verdict,
        ])  # fmt: skip
    return Table(header, rows, method_note(result))


def method_note(result: RunComparison) -> str:
    """How the verdicts were reached, in two sentences."""
    opts = result.options
    return (
        f"A change is reported ({SIGNIFICANT}) when it passes {opts.rule()}; {SMALL_MARK} marks "
        f"a significant change below that minimum (not reported). p-values are corrected over "
        f"all {result.tests} tests of this comparison (Mann-Whitney U per scope and metric, "
        "P(new>base) 0.5 = no shift; bootstrap per percentile). 'n small': fewer than "
        f"{MIN_TAIL} streams beyond the percentile, not judged."
    )


def outcome_table(result: RunComparison) -> Table:
    """Streams and error rate per scope, base → new (counts, not tested)."""
    header = ["env", "flow", "streams", "error rate"]
    rows = [
        [
            s.env,
            s.flow,
            _streams_cell(s),
            f"{fmt.pct(s.base_error_rate, 2)} → {fmt.pct(s.new_error_rate, 2)}",
        ]
        for s in result.scopes
    ]
    return Table(header, rows)


def itl_table(result: RunComparison) -> Table:
    """ITL percentiles of every gap from both summaries (merged histograms: shown, not tested)."""
    header = ["env", "gaps", "p50", "p95", "p99", "max"]
    envs = list(dict.fromkeys([*result.base.by_env, *result.new.by_env]))
    rows = []
    for env in envs:
        old = (result.base.by_env.get(env) or {}).get("itl_ms") or {}
        new = (result.new.by_env.get(env) or {}).get("itl_ms") or {}
        cells = [f"{fmt.count(old.get('count'))} → {fmt.count(new.get('count'))}"]
        cells += [_change(old.get(q), new.get(q)) for q in ("p50", "p95", "p99", "max")]
        rows.append([env, *cells])
    return Table(header, rows)


def _change(old: object, new: object) -> str:
    if not isinstance(old, int | float) or not isinstance(new, int | float):
        return f"{fmt.ms(old)} → {fmt.ms(new)}"
    relative = fmt.signed_pct(new / old - 1.0) if old else "-"
    return f"{fmt.ms(old)} → {fmt.ms(new)} ({relative})"


def run_line(label: str, run: RunData) -> str:
    """One line describing a run: directory, start, duration, target, users."""
    info = run.run
    return (
        f"{label}: {run.directory} · {info.get('started', '-')} · "
        f"{float(info.get('duration_s') or 0):.1f} s · {info.get('host') or '-'} · "
        f"users {info.get('users') if info.get('users') is not None else '-'} · "
        f"{len(run.records)} streams"
    )
