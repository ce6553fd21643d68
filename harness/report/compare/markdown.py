"""``comparison.md``: two runs side by side in Markdown (CI job summary, PR comment)."""

from __future__ import annotations

from harness.report.compare.analysis import COMPARED_METRICS, MetricChange, RunComparison
from harness.report.compare.tables import itl_table, metric_table, outcome_table, run_line
from harness.report.render import fmt
from harness.report.render.md import render_md_table


def _size(change: MetricChange) -> str:
    # How big the reported change is: the median's for a shift, the last moved percentile's
    # for a tail.
    test = change.test
    if test is None:
        return ""
    if change.verdict in ("slower", "faster"):
        base, new, name = test.base_median, test.new_median, "median"
    else:
        moved = [p for p, v in zip(change.percentiles, change.percentile_verdicts(), strict=True)
                 if v]  # fmt: skip
        if not moved:
            return ""
        base, new, name = moved[-1].base, moved[-1].new, f"p{moved[-1].q * 100:g}"
    relative = fmt.signed_pct(new / base - 1.0) if base else "from 0"
    return f" ({name} {relative}, {fmt.ms(base)} → {fmt.ms(new)})"


def headline(result: RunComparison) -> str:
    """One sentence: what changed (significantly and by enough to matter), or that nothing did."""
    changed = result.significant()
    if not changed:
        return "No significant change."
    parts = [f"{m.label} {m.verdict}{_size(m)} in {s.env}/{s.flow}" for s, m in changed[:8]]
    more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
    return f"Significant changes: {'; '.join(parts)}{more}."


def rule_line(result: RunComparison) -> str:
    """What counts as a change, and over how many tests."""
    return (
        f"A change counts when it passes {result.options.rule()} "
        f"({result.tests} tests corrected together)."
    )


def render_comparison_md(result: RunComparison) -> str:
    """The comparison as Markdown: runs, headline, one table per metric, outcomes, ITL."""
    lines = [
        "## flowload comparison",
        "",
        f"- {run_line('base', result.base)}",
        f"- {run_line('new', result.new)}",
        "",
        *(f"> **Warning:** {w}" for w in result.warnings),
        *([""] if result.warnings else []),
        f"**{headline(result)}**",
        "",
        rule_line(result),
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
