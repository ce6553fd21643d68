"""Markdown building blocks every report shares: escaped cells and tables."""

from __future__ import annotations

from harness.report.render.table import Table

_LEFT = {"", "env", "flow", "problems", "verdict", "gate", "message", "error", "flow-job-id",
         "outcome", "started (UTC)", "metric", "change", "process", "cause"}  # fmt: skip


def md_escape(cell: str) -> str:
    """A cell that cannot break the table (pipes escaped, newlines flattened)."""
    return cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def render_md_table(table: Table) -> str:
    """A GitHub-flavoured Markdown table (first column left, others right-aligned)."""
    header = "| " + " | ".join(md_escape(h) or " " for h in table.header) + " |"
    align = "|" + "|".join(":--" if h in _LEFT else "--:" for h in table.header) + "|"
    rows = ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in table.rows]
    note = [f"\n_{md_escape(table.note)}_"] if table.note else []
    return "\n".join([header, align, *rows, *note])
