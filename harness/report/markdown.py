"""``summary.md``: the compact Markdown version, fit for a CI job summary or a PR comment."""

from __future__ import annotations

from harness.report import fmt
from harness.report.health import health_facts, process_table
from harness.report.tables import (
    Table,
    env_side_by_side,
    failed_streams,
    flow_table,
    gate_table,
    gates_verdict,
    run_facts,
    run_warnings,
    steps_table,
)
from harness.results import RunData

MD_FAILED_ROWS = 10
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


def render_markdown(run: RunData) -> str:
    """The run as Markdown: header, warnings, gates, per env, per flow, failed streams."""
    facts = dict(run_facts(run))
    lines = [
        "## flowload report",
        "",
        (
            f"{facts['started']} · {facts['duration']} · target `{facts['target']}` · "
            f"users {facts['users']} · workers {facts['workers']} · limit {facts['limit']}"
        ),
        "",
    ]
    for warning in run_warnings(run):
        lines += [f"> **Warning:** {warning}", ""]
    if run.gates:
        text, passed = gates_verdict(run.gates)
        verdict = f"✅ {text}" if passed else f"❌ {text}"
        lines += ["", f"### Gates: {verdict}", "", render_md_table(gate_table(run))]
    lines += ["", "### Per environment", "", render_md_table(env_side_by_side(run))]
    lines += ["", "### Generator health", ""]
    lines += [f"- {label}: {text}" for label, text in health_facts(run)]
    processes = process_table(run)
    if processes.rows:
        lines += ["", render_md_table(processes)]
    lines += ["", "### Per flow", "", render_md_table(flow_table(run))]
    if run.steps:
        lines += ["", "### Load steps", "", render_md_table(steps_table(run))]
    failed_table = failed_streams(run, MD_FAILED_ROWS)
    if failed_table.rows:
        lines += ["", "### Failed streams", "", render_md_table(failed_table)]
    lines += ["", f"<sub>{fmt.count(len(run.records))} stream records · {run.schema}</sub>", ""]
    return "\n".join(lines)
