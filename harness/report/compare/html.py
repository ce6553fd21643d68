"""``comparison.html``: two runs side by side, tables and overlaid distributions, self-contained."""

from __future__ import annotations

from html import escape

import matplotlib.pyplot as plt

from harness.report.compare.analysis import ALL, COMPARED_METRICS, RunComparison
from harness.report.compare.markdown import headline, rule_line
from harness.report.compare.tables import itl_table, metric_table, outcome_table, run_line
from harness.report.render.colours import env_colours
from harness.report.render.page import page, render_figure, render_table
from harness.report.render.plot import Plot, cdf_points, plot_style
from harness.report.render.svg import figure_svg
from harness.results import RunData

_PLOTTED: tuple[tuple[str, str, float, str], ...] = (
    ("ttfi_ms", "Time to first item", 1.0, "time to first item (ms)"),
    ("duration_ms", "Stream duration", 1000.0, "duration (s)"),
)


def _overlay(result: RunComparison, metric: str, scale: float, xlabel: str) -> str | None:
    runs: tuple[tuple[str, RunData, str], ...] = (
        ("base", result.base, "--"),
        ("new", result.new, "-"),
    )
    envs = list(dict.fromkeys(r.env for _, run, _ in runs for r in run.records))
    colours = env_colours(envs)
    fig, ax = plt.subplots()
    drawn = False
    for label, run, style in runs:
        for env in envs:
            values = [v / scale for r in run.records if r.env == env
                      and (v := getattr(r, metric)) is not None]  # fmt: skip
            if values:
                drawn = True
                xs, ys = cdf_points(values)
                ax.step(xs, ys, style, where="post", color=colours[env], label=f"{env} {label}")
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of streams ≤ x")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower right", ncols=2)
    return figure_svg(fig, f"cmp-{metric}")


def comparison_plots(result: RunComparison) -> list[Plot]:
    """Overlaid CDFs (base dashed, new solid) per env for each plotted metric."""
    with plot_style():
        return [
            Plot(
                metric.replace("_ms", ""),
                f"{title}: base vs new",
                "Empirical CDF per env; dashed = base run, solid = new run.",
                _overlay(result, metric, scale, xlabel),
            )
            for metric, title, scale, xlabel in _PLOTTED
        ]


def _change_class(cell: str) -> str:
    # A regression reads red, an improvement green.
    if cell == "slower" or cell.startswith("tail slower"):
        return "FAIL"
    if cell == "faster" or cell.startswith("tail faster"):
        return "PASS"
    return ""


def render_comparison_html(result: RunComparison) -> str:
    """The whole comparison page."""
    runs = "".join(
        f"<li>{escape(run_line(label, run))}</li>"
        for label, run in (("base", result.base), ("new", result.new))
    )
    warnings = "".join(f'<p class="warn">{escape(w)}</p>' for w in result.warnings)
    parts = [
        (
            f"<header><h1>flowload comparison</h1><ul>{runs}</ul>{warnings}"
            f"<p><strong>{escape(headline(result))}</strong></p>"
            f'<p class="muted">{escape(rule_line(result))}</p></header>'
        ),
        '<section id="plots"><h2>Distributions</h2><div class="plots">'
        + "".join(render_figure(p) for p in comparison_plots(result))
        + "</div></section>",
    ]
    for metric, label in COMPARED_METRICS:
        table = render_table(metric_table(result, metric), _change_class)
        parts.append(
            f'<section id="cmp-{escape(metric)}"><h2>{escape(label)}</h2>{table}</section>'
        )
    parts.append(
        f'<section id="outcomes"><h2>Streams and errors</h2>{render_table(outcome_table(result))}'
        "</section>"
    )
    parts.append(
        '<section id="itl"><h2>ITL, every gap (summary percentiles; not tested)</h2>'
        f"{render_table(itl_table(result))}</section>"
    )
    scope_note = f"Rows with flow {ALL} pool every flow of the env."
    parts.append(f'<footer class="note"><p>{escape(scope_note)}</p></footer>')
    return page("flowload comparison", "".join(parts))
