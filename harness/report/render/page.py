"""HTML building blocks every report shares: the page, tables, figures (no script, no fetch)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from harness.report.render.plot import Plot
from harness.report.render.table import Table

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
