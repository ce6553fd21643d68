"""``report.html``: one self-contained page (inline CSS and SVG; no script, nothing fetched)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from harness.report import fmt
from harness.report.health import NOT_RECORDED, health_facts, process_table
from harness.report.plots import Plot, build_plots
from harness.report.tables import (
    Table,
    env_side_by_side,
    failed_streams,
    flow_table,
    gate_table,
    gates_verdict,
    percentile_table,
    run_facts,
    run_warnings,
    slowest_streams,
    steps_table,
)
from harness.results import RunData

CSS = """
:root { --fg: #1d2125; --muted: #5f6b76; --line: #d9dee3; --bad: #b42318; --good: #2e7d32; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  margin: 0 auto; max-width: 1180px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 2px solid var(--line);
  padding-bottom: 4px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.muted, figcaption, .note { color: var(--muted); font-size: 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; word-break: break-all; }
.warn { border-left: 4px solid #e6a700; background: #fff8e1; padding: 6px 10px; margin: 6px 0; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: right;
  white-space: nowrap; }
th { background: #f3f5f7; } td:first-child, th:first-child { text-align: left; }
td.text { text-align: left; white-space: normal; } .scroll { overflow-x: auto; }
.PASS { color: var(--good); font-weight: 600; } .FAIL { color: var(--bad); font-weight: 600; }
.INCONCLUSIVE { color: #b26b00; font-weight: 600; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
figure svg { width: 100%; height: auto; display: block; }
nav a { margin-right: 12px; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; } nav { display: none; }
  .plots { display: block; } figure { break-inside: avoid; margin-bottom: 10px; }
  table { break-inside: auto; } tr { break-inside: avoid; } h2 { break-after: avoid; }
  .scroll { overflow: visible; } th, td { white-space: normal; }
}
"""
TEXT_COLUMNS = {"gate", "message", "error", "flow-job-id", "problems", "env", "flow", "verdict",
                "cause", "process"}  # fmt: skip


def verdict_class(cell: str) -> str:
    """The CSS class of a gate verdict cell (``PASS``/``FAIL``), else none."""
    return cell if cell in ("PASS", "FAIL", "INCONCLUSIVE") else ""


def render_table(table: Table, classify: Callable[[str], str] = verdict_class) -> str:
    """An HTML table; text columns left-aligned, cells styled by ``classify(cell)``."""
    text_cols = {i for i, h in enumerate(table.header) if h in TEXT_COLUMNS}
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = []
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            classes = " ".join(filter(None, ("text" if i in text_cols else "", classify(cell))))
            attr = f' class="{classes}"' if classes else ""
            cells.append(f"<td{attr}>{escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{note}"
    )


def render_figure(plot: Plot) -> str:
    """A figure with its title and caption; a note instead of the SVG when there is no data."""
    body = plot.svg or f'<p class="note">Not drawn: {escape(plot.missing)}.</p>'
    return (
        f'<figure id="plot-{escape(plot.key)}" data-plot="{escape(plot.key)}">'
        f"<h3>{escape(plot.title)}</h3>{body}<figcaption>{escape(plot.caption)}</figcaption>"
        "</figure>"
    )


def page(title: str, body: str) -> str:
    """The HTML document around ``body`` (inline CSS only; nothing is fetched)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def _header(run: RunData) -> str:
    facts = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in run_facts(run))
    warnings = "".join(f'<p class="warn">{escape(w)}</p>' for w in run_warnings(run))
    overall = run.overall
    headline = (
        f"{fmt.count(overall.get('streams'))} streams, "
        f"{fmt.pct(overall.get('error_rate'), 2)} errors, "
        f"TTFI p95 {fmt.ms((overall.get('ttfi_ms') or {}).get('p95'))}"
    )
    return (
        f'<header><h1>flowload report</h1><p class="muted">{escape(headline)}</p>'
        f'<dl class="facts">{facts}</dl>{warnings}</header>'
    )


def _nav(sections: list[tuple[str, str]]) -> str:
    links = "".join(f'<a href="#{key}">{escape(title)}</a>' for key, title in sections)
    return f"<nav>{links}</nav>"


def _gates(run: RunData) -> str:
    if not run.gates:
        return ""
    verdict, _ = gates_verdict(run.gates)
    return (
        f'<section id="gates"><h2>Gates: {escape(verdict)}</h2>'
        f"{render_table(gate_table(run))}</section>"
    )


def _health_class(cell: str) -> str:
    return {"kept up": "PASS", "saturated": "FAIL"}.get(cell, "")


def _health(run: RunData) -> str:
    """The clock, its error bound, and each load-generating process's health."""
    facts = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in health_facts(run))
    table = process_table(run)
    processes = (
        render_table(table, _health_class)
        if table.rows
        else f'<p class="muted">Process health: {escape(NOT_RECORDED)}.</p>'
    )
    return f'<dl class="facts">{facts}</dl>{processes}'


def _streams(run: RunData) -> str:
    failed = failed_streams(run)
    failed_html = render_table(failed) if failed.rows else '<p class="muted">No failed streams.</p>'
    return (
        '<section id="streams"><h2>Streams to look up on the server</h2>'
        '<p class="muted">Search the Flow run log by <code>flow-job-id</code>.</p>'
        f"<h3>Slowest streams</h3>{render_table(slowest_streams(run))}"
        f"<h3>Failed streams</h3>{failed_html}</section>"
    )


def render_report(run: RunData, plots: list[Plot] | None = None) -> str:
    """The whole single-run report page."""
    plots = build_plots(run) if plots is None else plots
    percentiles = "".join(
        f"<h3>{escape(label)} (ms)</h3>{render_table(percentile_table(run, metric))}"
        for metric, label in fmt.LATENCY_METRICS
    )
    sections: list[tuple[str, str, str]] = [
        ("envs", "Per environment", render_table(env_side_by_side(run))),
        ("health", "Generator health", _health(run)),
        ("plots", "Plots", f'<div class="plots">{"".join(map(render_figure, plots))}</div>'),
        ("flows", "Per flow", render_table(flow_table(run))),
        ("percentiles", "Latency percentiles", percentiles),
    ]
    if run.steps:
        sections.insert(1, ("steps", "Load steps", render_table(steps_table(run))))
    parts: list[Any] = [_header(run)]
    nav = [("gates", "Gates")] if run.gates else []
    nav += [(key, title) for key, title, _ in sections] + [("streams", "Streams")]
    parts.append(_nav(nav))
    parts.append(_gates(run))
    parts += [f'<section id="{k}"><h2>{escape(t)}</h2>{html}</section>' for k, t, html in sections]
    parts.append(_streams(run))
    parts.append(
        f'<footer class="note"><p>{escape(run.schema)} · generated by flowload from '
        "summary.json and streams.jsonl</p></footer>"
    )
    return page("flowload report", "".join(parts))
