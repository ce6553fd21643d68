"""``comparison.md``: two runs side by side in Markdown (CI job summary, PR comment)."""

from __future__ import annotations

import math

from harness.report import fmt
from harness.report.compare import COMPARED_METRICS, MetricChange, RunComparison
from harness.report.compare_tables import itl_table, metric_table, outcome_table, run_line
from harness.report.markdown import render_md_table


def _size(change: MetricChange) -> str:
    # Show how big a significant change is: with thousands of streams, 1 % is significant.
    if change.test is None or math.isnan(change.test.effect):  # NaN: the base median is 0
        return ""
    return f" (median {fmt.signed_pct(change.test.effect)})"


def headline(result: RunComparison) -> str:
    """One sentence: what changed significantly, or that nothing did."""
    changed = result.significant()
    if not changed:
        return "No significant change."
    parts = [f"{m.label} {m.verdict}{_size(m)} in {s.env}/{s.flow}" for s, m in changed[:8]]
    more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
    return f"Significant changes: {'; '.join(parts)}{more}."


def render_comparison_md(result: RunComparison) -> str:
    """The comparison as Markdown: runs, headline, one table per metric, outcomes, ITL."""
    lines = [
        "## flowload comparison",
        "",
        f"- {run_line('base', result.base)}",
        f"- {run_line('new', result.new)}",
        "",
        f"**{headline(result)}**",
    ]
    for metric, label in COMPARED_METRICS:
        lines += ["", f"### {label}", "", render_md_table(metric_table(result, metric))]
    lines += ["", "### Streams and errors", "", render_md_table(outcome_table(result))]
    lines += [
        "",
        "### ITL, every gap (summary percentiles; not tested)",
        "",
        render_md_table(itl_table(result)),
        "",
    ]
    return "\n".join(lines)
