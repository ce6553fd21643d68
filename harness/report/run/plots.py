"""The report's plots: matplotlib (Agg backend, no display) rendered to inline SVG.

Distributions come from per-stream records (every stream, exact values); the ITL plot uses the
summary's merged histogram percentiles, because records keep only each stream's median and max gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # before pyplot: no display, no GUI toolkit, same output everywhere
import matplotlib.pyplot as plt

from harness.report.render.colours import env_colours
from harness.report.render.fmt import PERCENTILES
from harness.report.render.plot import Plot, cdf_points, plot_style
from harness.report.render.svg import figure_svg
from harness.report.run.series import TimeSeries, build_series
from harness.results import RunData, StreamRecord

OUTCOME_COLOURS = {
    "ok": "#4c9a2a",
    "http_error": "#d62728",
    "connect_error": "#8c564b",
    "timeout": "#ff7f0e",
    "truncated": "#9467bd",
    "malformed": "#e377c2",
    "protocol_error": "#bcbd22",
    "stalled": "#7f7f7f",
    "limit_exceeded": "#17becf",
}


def _by_env(records: Sequence[StreamRecord], field: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for record in records:
        value = getattr(record, field)
        if value is not None:
            out.setdefault(record.env, []).append(float(value))
    return out


def _cdf_plot(
    run: RunData, field: str, xlabel: str, scale: float, colours: dict[str, str]
) -> str | None:
    samples = _by_env(run.records, field)
    if not samples:
        return None
    fig, ax = plt.subplots()
    for env in [e for e in colours if e in samples]:
        xs, ys = cdf_points([v / scale for v in samples[env]])
        ax.step(xs, ys, where="post", color=colours[env], label=f"{env} (n={len(samples[env])})")
        stats = run.by_env.get(env, {}).get(field) or {}
        marks = [(q, stats.get(q)) for q in ("p50", "p95", "p99")]
        for q, value in marks:
            if isinstance(value, int | float):
                level = {"p50": 0.5, "p95": 0.95, "p99": 0.99}[q]
                ax.plot([value / scale], [level], "o", color=colours[env], markersize=3.5)
    for level in (0.5, 0.95, 0.99):
        ax.axhline(level, color="#999999", linewidth=0.6, linestyle=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of streams ≤ x")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize=7)
    return figure_svg(fig, field)


def _itl_plot(run: RunData, colours: dict[str, str]) -> str | None:
    fig, ax = plt.subplots()
    drawn = False
    for env, block in run.by_env.items():
        itl = block.get("itl_ms") or {}
        points = [(q, itl.get(q)) for q in PERCENTILES]
        values = [(q, float(v)) for q, v in points if isinstance(v, int | float)]
        if not values or not itl.get("count"):
            continue
        drawn = True
        ax.plot(
            [q for q, _ in values],
            [v for _, v in values],
            "o-",
            color=colours.get(env),
            label=f"{env} ({itl.get('count')} gaps)",
        )
    if not drawn:
        plt.close(fig)
        return None
    ax.set_yscale("log")
    ax.set_xlabel("percentile (merged histogram of every inter-item gap)")
    ax.set_ylabel("inter-item latency (ms)")
    ax.legend(fontsize=7)
    return figure_svg(fig, "itl")


def _limit_plot(run: RunData, colours: dict[str, str]) -> str | None:
    samples = _by_env(run.records, "limit_used")
    samples = {env: [v for v in values if v > 0] for env, values in samples.items()}
    if not any(samples.values()):
        return None
    fig, ax = plt.subplots()
    for env in [e for e in colours if samples.get(e)]:
        xs, ys = cdf_points([100.0 * v for v in samples[env]])
        ax.step(xs, ys, where="post", color=colours[env], label=env)
    slowest = max(v for values in samples.values() for v in values)
    ax.axvline(100.0, color="#d62728", linewidth=1.2)
    ax.annotate(f" limit {run.limit_s:g} s", (100.0, 0.05), color="#d62728", fontsize=8, ha="right")
    headroom = run.limit_s * (1.0 - slowest)
    ax.set_title(
        f"slowest stream used {100 * slowest:.1f}% of the limit (headroom {headroom:.1f} s)",
        fontsize=9,
    )
    ax.set_xscale("log")
    # Always show the limit itself, however far below it the streams stayed.
    smallest = min(v for values in samples.values() for v in values)
    ax.set_xlim(100.0 * smallest / 1.5, max(150.0, 150.0 * slowest))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("duration as % of the execution limit (log scale)")
    ax.set_ylabel("share of streams ≤ x")
    ax.legend(loc="upper left", fontsize=7)
    return figure_svg(fig, "limit")


def _time_axis(ax: Any, series: TimeSeries) -> None:
    ax.set_xlabel(f"seconds since the first stream started ({series.width:g} s buckets)")
    ax.set_xlim(0, series.size * series.width)


def _throughput_plot(series: TimeSeries) -> str:
    fig, ax = plt.subplots()
    xs = series.midpoints()
    ax.plot(xs, [c / series.width for c in series.completed], "o-", label="completed", ms=2.5)
    ax.plot(xs, [c / series.width for c in series.started], "s--", label="started", ms=2.5)
    ax.set_ylabel("streams / s")
    ax.legend(fontsize=7)
    _time_axis(ax, series)
    return figure_svg(fig, "throughput")


def _active_plot(series: TimeSeries) -> str:
    fig, ax = plt.subplots()
    ax.fill_between(series.midpoints(), series.active, step="mid", alpha=0.35)
    ax.step(series.midpoints(), series.active, where="mid")
    ax.set_ylabel("streams in flight (time-weighted mean)")
    _time_axis(ax, series)
    return figure_svg(fig, "active")


def _ttfi_time_plot(series: TimeSeries, colours: dict[str, str]) -> str | None:
    if not series.ttfi_p95:
        return None
    fig, ax = plt.subplots()
    width = series.ttfi_width
    xs = [(i + 0.5) * width for i in range(len(next(iter(series.ttfi_p95.values()))))]
    for env in [e for e in colours if e in series.ttfi_p95]:
        points = [(x, y) for x, y in zip(xs, series.ttfi_p95[env], strict=True) if y is not None]
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            "o-",
            ms=2.5,
            label=env,
            color=colours[env],
        )
    ax.set_ylabel("TTFI p95 (ms)")
    ax.legend(fontsize=7)
    _time_axis(ax, series)
    ax.set_xlabel(
        f"seconds since the first stream started (streams started in {width:g} s buckets)"
    )
    return figure_svg(fig, "ttfi-time")


def _outcomes_plot(series: TimeSeries) -> str:
    fig, ax = plt.subplots()
    xs = series.midpoints()
    bottom = [0.0] * series.size
    ordered = [o for o in OUTCOME_COLOURS if o in series.outcomes]
    ordered += sorted(set(series.outcomes) - set(OUTCOME_COLOURS))
    for outcome in ordered:
        counts = series.outcomes[outcome]
        ax.bar(
            xs,
            counts,
            width=series.width * 0.9,
            bottom=bottom,
            label=outcome,
            color=OUTCOME_COLOURS.get(outcome, "#333333"),
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_ylabel("streams ended in bucket")
    ax.legend(fontsize=7, ncols=min(4, len(ordered)))
    _time_axis(ax, series)
    return figure_svg(fig, "outcomes")


_TEXTS: dict[str, tuple[str, str]] = {
    "ttfi": (
        "Time to first item per env",
        (
            "Empirical CDF of TTFI per stream; dotted lines at 50/95/99 %, dots at the summary's "
            "p50/p95/p99."
        ),
    ),
    "itl": (
        "Inter-item latency per env",
        (
            "Percentile ladder of every gap between items (merged histograms from summary.json; "
            "streams.jsonl keeps only per-stream p50/max)."
        ),
    ),
    "duration": ("Stream duration per env", "Empirical CDF of total stream duration."),
    "limit": (
        "Duration against the execution limit",
        "How close each stream came to the server's limit; the red line is the limit.",
    ),
    "throughput": ("Throughput over time", "Streams completed and started per second."),
    "active": ("Active streams over time", "Mean number of streams in flight."),
    "ttfi-time": (
        "TTFI p95 over time",
        "p95 of TTFI of the streams started in each bucket, per env.",
    ),
    "outcomes": ("Outcomes over time", "Streams by outcome, by the bucket they ended in."),
}
PLOT_KEYS: tuple[str, ...] = tuple(_TEXTS)


def _draw_all(run: RunData) -> dict[str, str | None]:
    colours = env_colours(run.envs + sorted({r.env for r in run.records} - set(run.envs)))
    series = build_series(run.records)
    with plot_style():
        return {
            "ttfi": _cdf_plot(run, "ttfi_ms", "time to first item (ms)", 1.0, colours),
            "itl": _itl_plot(run, colours),
            "duration": _cdf_plot(run, "duration_ms", "duration (s)", 1000.0, colours),
            "limit": _limit_plot(run, colours),
            "throughput": _throughput_plot(series) if series else None,
            "active": _active_plot(series) if series else None,
            "ttfi-time": _ttfi_time_plot(series, colours) if series else None,
            "outcomes": _outcomes_plot(series) if series else None,
        }


def build_plots(run: RunData) -> list[Plot]:
    """Every plot of the single-run report, in page order (missing data → ``svg=None``)."""
    drawn = _draw_all(run)
    missing = "no data to draw"
    if not run.records:
        missing = "no per-stream records (streams.jsonl is missing or empty)"
    return [Plot(key, *_TEXTS[key], drawn[key], missing) for key in PLOT_KEYS]
