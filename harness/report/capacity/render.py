"""The capacity report: ``capacity.html`` (self-contained, plots), ``capacity.md``, console table.

Built from a :class:`~harness.capacity.run_analysis.RunAnalysis` (the analysis plus the run's
summary): the recommendation per env, goodput and TTFI p95 against load with the USL fit and
the SLO, the evidence of saturation, Little's law and limit headroom per step, and the caveats.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from harness.capacity import EnvCapacity
from harness.capacity.recommend import (
    approx,
    credible_peak,
    figure_text,
    knee_text,
    load_text,
    num,
)
from harness.capacity.run_analysis import RunAnalysis
from harness.errors import FlowloadError
from harness.report.capacity.plots import capacity_plots
from harness.report.render import fmt
from harness.report.render.md import render_md_table
from harness.report.render.page import page, render_figure, render_table
from harness.report.render.table import Table
from harness.report.run.health import saturation_summary
from harness.results import write_atomic

CAPACITY_HTML = "capacity.html"
CAPACITY_MD = "capacity.md"


class CapacityReportError(FlowloadError):
    """The capacity report could not be written."""


def _load_unit(env: EnvCapacity) -> str:
    return "concurrent streams" if env.load_kind == "users" else "streams/s"


def _envs(result: RunAnalysis) -> list[EnvCapacity]:
    return list(result.analysis.envs.values())


def recommendation_table(result: RunAnalysis) -> Table:
    """One row per env: the figure to plan with and the measurements that bound it."""
    header = ["env", "plan for", "highest step within SLO", "saturates at",
              "USL sigma / kappa / R²", "USL peak", "recommendation"]  # fmt: skip
    # The recommendation stays the last column: the HTML and console show it apart.
    rows = []
    for env in _envs(result):
        rec = env.recommended
        best = env.selection.best
        sat = env.saturation
        usl = env.usl
        peak = "-" if usl is None else "none credible"
        credible = None if usl is None else credible_peak(usl)
        if usl is not None and credible is not None:
            where = "extrapolated" if usl.extrapolated else "measured range"
            peak = f"{approx(credible)} in flight ({where})"
        highest = "none" if best is None else load_text(best)
        if rec.past_knee is not None:
            highest += " (past saturation)"
        rows.append(
            [
                env.env,
                figure_text(env, rec) if rec.step is not None else "none",
                highest,
                knee_text(env) if sat.status == "found" else sat.status.replace("_", " "),
                "-"
                if usl is None
                else f"{_coef(usl.sigma)} / {_coef(usl.kappa)} / {usl.r_squared:.2f}",
                peak,
                result.analysis.recommendation(env.env),
            ]
        )
    return Table(header, rows)


def _coef(value: float) -> str:
    # Fitted coefficients of 1e-20 are zero within the fit's precision: say so.
    return "0" if abs(value) < 5e-6 else f"{value:.3g}"


def _model_text(env: EnvCapacity) -> str:
    usl = env.usl
    if usl is None:
        return env.usl_note
    peak = credible_peak(usl)
    where = "beyond the measured range" if usl.extrapolated else "within the measured range"
    peak_text = (
        "no credible peak"
        if peak is None
        else f"peak {approx(peak)} in flight at {num(usl.peak_throughput or 0.0)} streams/s "
        f"({where})"
    )
    return (
        f"Universal Scalability Law X(N) = lambda N / (1 + sigma (N-1) + kappa N (N-1)): "
        f"sigma {_coef(usl.sigma)}, kappa {_coef(usl.kappa)}, lambda {num(usl.lam)}, "
        f"R² {usl.r_squared:.3f} over {usl.points} steps; {peak_text}; {env.usl_note}."
    )


def _uncorrected(result: RunAnalysis) -> dict[int, Any]:
    steps = result.summary.get("steps") or []
    return {s.get("step"): (s.get("ttfi_uncorrected_ms") or {}).get("p95") for s in steps}


def step_table(result: RunAnalysis, env: EnvCapacity) -> Table:
    """One row per step of one env: load, throughput, latency, SLO, Little's law, headroom."""
    arrival = env.load_kind == "rate"
    single = len([e for e in result.analysis.envs if e != "*"]) <= 1
    header = ["step", f"load ({_load_unit(env)})", "streams", "goodput", "TTFI p95"]
    if arrival and single:
        header.append("TTFI p95 uncorrected")
    header += ["error rate", "in flight (Little)"]
    if not arrival:  # open loop has no set concurrency to compare the in-flight figure with
        header.append("Little gap")
    header += ["limit used p99 / max", "SLO", "problems"]  # problems: a wrapping text column
    uncorrected = _uncorrected(result)
    littles = {c.step: c for c in env.littles}
    headroom = {h.step: h for h in env.headroom}
    checks = {c.step.step: c for c in env.selection.checks}
    rows = []
    for step in env.steps:
        little, room, check = littles.get(step.step), headroom.get(step.step), checks.get(step.step)
        row = [str(step.step), num(step.load), fmt.count(step.streams), fmt.rate(step.goodput)]
        row.append(fmt.ms(step.stat("ttfi_ms", "p95")))
        if arrival and single:
            row.append(fmt.ms(uncorrected.get(step.step)))
        row += [
            fmt.pct(step.scalar("error_rate"), 2),
            "-" if little is None or little.in_flight is None else num(little.in_flight),
        ]
        if not arrival:
            row.append("-" if little is None or little.gap is None else fmt.signed_pct(little.gap))
        row += [
            "-"
            if room is None or room.used_max is None
            else f"{fmt.pct(room.used_p99, 1)} / {fmt.pct(room.used_max, 1)}",
            "-" if check is None else ("PASS" if check.passed else "FAIL"),
            "" if check is None else "; ".join(check.failures),
        ]
        rows.append(row)
    return Table(header, rows)


def evidence_table(env: EnvCapacity) -> Table:
    """Step-to-step changes: how the knee was found (or why none was)."""
    header = ["from → to", "load growth", "goodput change", "efficiency", "TTFI p95 change"]
    rows = [
        [
            f"{num(d.prev_load)} → {num(d.load)}",
            fmt.signed_pct(d.load_growth),
            fmt.signed_pct(d.throughput_gain),
            f"{d.efficiency:.2f}",
            fmt.signed_pct(d.latency_growth),
        ]
        for d in env.saturation.deltas
    ]
    note = (
        "efficiency = goodput change / load change (1 linear, 0 flat); the knee is the first "
        "step below 0.5 while TTFI p95 grows more than 20%"
    )
    return Table(header, rows, note)


def slo_line(result: RunAnalysis) -> str:
    """The SLO in words and where it came from, per env when they differ."""
    texts = {env.env: ", ".join(o.describe() for o in env.objectives) for env in _envs(result)}
    source = result.slo_source
    if len(set(texts.values())) <= 1:
        objectives = next(iter(texts.values()), "") or "none"
        return f"SLO ({source}): {objectives}."
    per_env = "; ".join(f"{env}: {text or 'none'}" for env, text in texts.items())
    return f"SLO ({source}): {per_env}."


def run_warnings(result: RunAnalysis) -> list[str]:
    """What makes the whole run's figures doubtful: read before the recommendation."""
    run = result.summary.get("run") or {}
    out = []
    if run.get("generator_saturated"):
        cause = saturation_summary(run) or "CPU, event-loop lag or waiting for a CPU"
        out.append(
            f"The load generator was saturated ({cause}): latencies may describe the harness, "
            "not the server, and the figures below may be too low. Add workers (--workers), "
            "keep other busy processes off its CPUs, and run again."
        )
    if run.get("interrupted"):
        out.append("The run was interrupted before its planned end: its last step is partial.")
    if run.get("degraded") or run.get("lost_workers"):
        out.append("Worker(s) were lost before their final report: step counts are partial.")
    if run.get("cancelled_streams"):
        out.append(
            f"{run['cancelled_streams']} stream(s) were still running at the end (not measured)."
        )
    return out


def general_caveats(result: RunAnalysis) -> list[str]:
    """How the figures were made (whole run): the warnings first, then the method's limits."""
    steps = result.summary.get("steps") or []
    settle = steps[0].get("settle_s") if steps else None
    out = run_warnings(result)
    if isinstance(settle, int | float):
        out.append(
            f"The first {settle:g} s of every step (ramp-up, the previous step's streams) are "
            "excluded from its statistics; a stream counts in the step it started in."
        )
    if (result.summary.get("run") or {}).get("mode") == "arrival":
        out.append(
            "Open loop: streams start on a timetable whatever earlier ones do, and latencies are "
            "measured from the intended start (coordinated-omission correction). Closed-loop "
            "users slow down with the server and hide queueing; compare with a stepped run."
        )
    else:
        out.append(
            "Closed loop: each user keeps one stream in flight and starts the next when the "
            "last one ends (so users = concurrent streams), and a slow server slows the load "
            "down (coordinated omission); an arrival-rate run shows what users arriving on "
            "their own schedule would see."
        )
    bases = {e.basis for loads in result.env_loads.values() for e in loads}
    if len(result.env_loads) > 1 and "measured" in bases:
        out.append(
            "Per-env concurrency is the step's users x the env's measured share of streams in "
            "flight (Little's law), not its weight share: a slower or saturated env holds users "
            "longer."
        )
    out.append(
        "The figure to plan with is a measured step at or below saturation, rounded down; "
        "USL predictions beyond the highest step are extrapolations: measure before relying "
        "on them."
    )
    out += [str(n) for n in result.analysis.notes]
    return out


def _run_line(result: RunAnalysis) -> str:
    run = result.summary.get("run") or {}
    return (
        f"{run.get('started', '?')} · {fmt.count(run.get('duration_s'))} s · target "
        f"{run.get('host', '?')} · mode {run.get('mode', '?')} · workers {run.get('workers', 1)}"
    )


def _uncorrected_points(result: RunAnalysis) -> dict[str, list[tuple[float, float]]]:
    envs = [e for e in _envs(result) if e.env != "*"]
    if len(envs) != 1 or envs[0].load_kind != "rate":
        return {}  # summary.json keeps the uncorrected TTFI for all envs merged only
    values = _uncorrected(result)
    env = envs[0]
    points = [(s.load, values.get(s.step)) for s in env.steps]
    return {env.env: [(x, float(y)) for x, y in points if isinstance(y, int | float)]}


def _env_section(result: RunAnalysis, env: EnvCapacity) -> str:
    caveats = "".join(f"<li>{escape(c)}</li>" for c in env.caveats)
    return (
        f'<section id="env-{escape(env.env)}"><h2>{escape(env.env)}</h2>'
        f"<p><strong>{escape(result.analysis.recommendation(env.env))}</strong></p>"
        f"<h3>Caveats</h3><ul>{caveats}</ul>"
        f"<h3>Steps</h3>{render_table(step_table(result, env))}"
        f"<h3>Saturation evidence</h3><p>{escape(env.saturation.evidence())}</p>"
        f"{render_table(evidence_table(env))}"
        f"<h3>Model</h3><p>{escape(_model_text(env))}</p></section>"
    )


def _recommendation_html(result: RunAnalysis) -> str:
    items = []
    for env in _envs(result):
        caveats = "".join(f"<li>{escape(c)}</li>" for c in env.caveats)
        sentence = escape(result.analysis.recommendation(env.env))
        items.append(f"<li><strong>{sentence}</strong><ul>{caveats}</ul></li>")
    table = recommendation_table(result)
    return (
        f'<section id="recommendation"><h2>Recommendation</h2><ul>{"".join(items)}</ul>'
        f"<p>{escape(slo_line(result))}</p>"
        f"{render_table(Table(table.header[:-1], [row[:-1] for row in table.rows]))}</section>"
    )


def render_capacity_html(result: RunAnalysis) -> str:
    """The whole capacity report page: warnings, then the figures and their caveats."""
    envs = _envs(result)
    named = [e for e in envs if e.env != "*"] or envs
    plots = capacity_plots(named, result.summary.get("steps") or [], _uncorrected_points(result))
    general = "".join(f"<li>{escape(c)}</li>" for c in general_caveats(result))
    warnings = "".join(f'<p class="warn">{escape(w)}</p>' for w in run_warnings(result))
    parts = [
        "<header><h1>flowload capacity report</h1>",
        f'<p class="muted">{escape(_run_line(result))}</p>{warnings}</header>',
        '<nav><a href="#recommendation">Recommendation</a><a href="#caveats">Caveats</a>',
        "".join(f'<a href="#env-{escape(e.env)}">{escape(e.env)}</a>' for e in envs),
        "</nav>",
        _recommendation_html(result),
        f'<section id="caveats"><h2>Caveats (whole run)</h2><ul>{general}</ul></section>',
        '<section id="plots"><h2>Plots</h2><div class="plots">',
        "".join(map(render_figure, plots)),
        "</div></section>",
        *(_env_section(result, env) for env in envs),
        (
            '<footer class="note"><p>flowload.capacity/1 · from summary.json; figures in '
            "capacity.json</p></footer>"
        ),
    ]
    return page("flowload capacity report", "".join(parts))


def render_capacity_md(result: RunAnalysis) -> str:
    """The capacity report as Markdown (for a CI job summary or a PR comment)."""
    lines = ["## flowload capacity report", "", _run_line(result), ""]
    lines += [f"> **Warning:** {w}\n" for w in run_warnings(result)]
    lines += ["### Recommendation", ""]
    for env in _envs(result):
        lines += [f"- **{result.analysis.recommendation(env.env)}**"]
        lines += [f"  - {c}" for c in env.caveats]
    table = recommendation_table(result)
    lines += ["", slo_line(result), ""]
    lines += [render_md_table(Table(table.header[:-1], [row[:-1] for row in table.rows]))]
    lines += ["", "### Caveats (whole run)", ""]
    lines += [f"- {c}" for c in general_caveats(result)]
    for env in _envs(result):
        lines += ["", f"### {env.env}", ""]
        lines += [f"- {c}" for c in env.caveats]
        lines += ["", render_md_table(step_table(result, env)), ""]
        lines += [f"Saturation: {env.saturation.evidence()}", "", f"Model: {_model_text(env)}"]
    return "\n".join([*lines, ""])


def console_table(result: RunAnalysis) -> str:
    """Warnings, the SLO, the recommendation table and one sentence per env, for the terminal."""
    table = recommendation_table(result)
    rows = [row[:-1] for row in [table.header, *table.rows]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    text = [f"WARNING: {w}" for w in run_warnings(result)]
    text += [slo_line(result), ""]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    text += [*lines, "", *(row[-1] for row in table.rows)]
    return "\n".join(text)


def _write(path: Path, text: str) -> Path:
    return write_atomic(path, text, error=CapacityReportError)


def write_capacity_reports(result: RunAnalysis, report_dir: Path) -> list[Path]:
    """Write capacity.html and capacity.md into ``report_dir``; return their paths."""
    return [
        _write(report_dir / CAPACITY_HTML, render_capacity_html(result)),
        _write(report_dir / CAPACITY_MD, render_capacity_md(result)),
    ]
