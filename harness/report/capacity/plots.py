"""The capacity report's plots: goodput and TTFI p95 against load per env, arrival-rate health.

Drawn from the analysis (each env's steps at the env's own load), so the plots show exactly what
the recommendation was computed from. matplotlib → inline SVG, as in the run report.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt

from harness.capacity import EnvCapacity, in_flight
from harness.report.render.colours import env_colours
from harness.report.render.plot import Plot, plot_style
from harness.report.render.svg import figure_svg

_X_LABEL = {
    "users": "concurrent streams in the env (users x env share)",
    "rate": "arrival rate in the env (streams/s)",
}


def _load_axis(env: EnvCapacity) -> str:
    # The USL is fitted against concurrency; for arrival runs that is the Little's-law in-flight.
    return "mean streams in flight (Little's law)" if env.load_kind == "rate" else _X_LABEL["users"]


def _x_for_usl(env: EnvCapacity) -> list[tuple[float, float]]:
    points = []
    for step in env.steps:
        x = step.load if env.load_kind == "users" else in_flight(step)
        if x is not None and step.goodput is not None:
            points.append((x, step.goodput))
    return points


def _throughput_plot(envs: Sequence[EnvCapacity], colours: Mapping[str, str]) -> str | None:
    if not any(_x_for_usl(e) for e in envs):
        return None
    fig, ax = plt.subplots()
    for env in envs:
        colour = colours[env.env]
        points = _x_for_usl(env)
        ax.plot([p[0] for p in points], [p[1] for p in points], "o", color=colour, label=env.env)
        curve = env.usl_curve()
        if curve:
            ax.plot([c[0] for c in curve], [c[1] for c in curve], "--", color=colour, lw=1)
        knee = env.saturation.estimated_load
        if env.saturation.status == "found" and knee is not None and env.load_kind == "users":
            ax.axvline(knee, color=colour, lw=0.8, ls=":")
        best = env.recommended.step
        if best is not None and best.goodput is not None:
            x = best.load if env.load_kind == "users" else in_flight(best)
            if x is not None:
                ax.plot([x], [best.goodput], "*", color=colour, ms=11, mec="black", mew=0.5)
    ax.set_xlabel(_load_axis(envs[0]))
    ax.set_ylabel("goodput (ok streams / s)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left")
    return figure_svg(fig, "cap-throughput")


def _slo_line(env: EnvCapacity, block: str, stat: str) -> float | None:
    for objective in env.objectives:
        if objective.block == block and objective.stat == stat and objective.op in ("<", "<="):
            return objective.threshold
    return None


def _latency_plot(
    envs: Sequence[EnvCapacity],
    colours: Mapping[str, str],
    uncorrected: Mapping[str, Sequence[tuple[float, float]]],
) -> str | None:
    fig, ax = plt.subplots()
    drawn = False
    for env in envs:
        points = [(s.load, s.stat("ttfi_ms", "p95")) for s in env.steps]
        kept = [(x, y) for x, y in points if y is not None]
        if not kept:
            continue
        drawn = True
        colour = colours[env.env]
        ax.plot([p[0] for p in kept], [p[1] for p in kept], "o-", color=colour, label=env.env)
        raw = uncorrected.get(env.env) or []
        if raw:
            ax.plot(
                [p[0] for p in raw],
                [p[1] for p in raw],
                "x--",
                color=colour,
                alpha=0.7,
                label=f"{env.env}: from actual start (uncorrected)",
            )
        slo = _slo_line(env, "ttfi_ms", "p95")
        if slo is not None:
            ax.axhline(slo, color=colour, lw=0.9, ls=":")
            ax.annotate(f"SLO {slo:g} ms", (0.99, slo), xycoords=("axes fraction", "data"),
                        fontsize=7, color=colour, va="bottom", ha="right")  # fmt: skip
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel(_X_LABEL[envs[0].load_kind])
    ax.set_ylabel("TTFI p95 (ms)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left")
    return figure_svg(fig, "cap-ttfi")


def _arrival_plot(steps: Sequence[Mapping[str, Any]]) -> str | None:
    rows = [
        (float(s["rate"]), s.get("dropped"), (s.get("lag_ms") or {}).get("p95"))
        for s in steps
        if isinstance(s.get("rate"), int | float)
    ]
    if not rows:
        return None
    fig, ax = plt.subplots()
    rates = [r[0] for r in rows]
    width = 0.6 * min((b - a for a, b in itertools.pairwise(rates)), default=1.0)
    ax.bar(rates, [float(r[1] or 0) for r in rows], width=width, color="#d62728", alpha=0.6,
           label="dropped arrivals (in-flight cap)")  # fmt: skip
    ax.set_xlabel("arrival rate (streams/s, all envs)")
    ax.set_ylabel("dropped arrivals in the step")
    lag = ax.twinx()
    lag.plot(rates, [float(r[2] or 0) for r in rows], "o-", color="#333333", label="start lag p95")
    lag.set_ylabel("start lag p95 (ms)")
    lag.grid(visible=False)
    handles = ax.get_legend_handles_labels()
    more = lag.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, loc="upper left")
    return figure_svg(fig, "cap-arrival")


_TEXTS = {
    "cap-throughput": (
        "Goodput against load, with the fitted USL curve",
        (
            "Dots: ok streams/s measured at each step; dashed: the Universal Scalability Law fit; "
            "dotted vertical: the saturation estimate; star: the figure to plan with (the highest "
            "step within the SLO and not past saturation)."
        ),
    ),
    "cap-ttfi": (
        "TTFI p95 against load, with the SLO",
        (
            "p95 of time to first item at each step (settling excluded); dotted horizontal: the "
            "SLO. Arrival runs: solid is measured from the intended start (corrected for "
            "coordinated omission), dashed from the actual start."
        ),
    ),
    "cap-arrival": (
        "Open loop: dropped arrivals and start lag",
        (
            "Arrivals that could not start (in-flight cap reached) and the p95 delay between a "
            "stream's intended and actual start, per step."
        ),
    ),
}


def capacity_plots(
    envs: Sequence[EnvCapacity],
    steps: Sequence[Mapping[str, Any]],
    uncorrected: Mapping[str, Sequence[tuple[float, float]]],
) -> list[Plot]:
    """The capacity report's figures (the arrival plot only for arrival-rate runs)."""
    if not envs:
        return []
    colours = env_colours([e.env for e in envs])
    arrival = envs[0].load_kind == "rate"
    with plot_style():
        drawn = {
            "cap-throughput": _throughput_plot(envs, colours),
            "cap-ttfi": _latency_plot(envs, colours, uncorrected),
        }
        if arrival:
            drawn["cap-arrival"] = _arrival_plot(steps)
    return [Plot(key, *_TEXTS[key], svg) for key, svg in drawn.items()]
